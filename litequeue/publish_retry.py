"""Sending through a busy or restarting store: Celery's ``retry`` / ``retry_policy`` for publishing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .calling import check_max_retries
from .errors import DuplicateJob, InvalidOptionError, StoreLocked, StoreUnavailable
from .moments import seconds
from .setting_values import DEFAULT_PUBLISH_RETRY_POLICY

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger("litequeue.calling")
T = TypeVar("T")


def with_publish_retry(fn: Callable[..., T], retry: bool, policy: dict, *args: Any) -> T:
    """Call ``fn(*args)``, retrying while the store is locked or its server unreachable, per Celery's
    retry_policy keys: ``max_retries`` (None: until the store is free), then waits of
    ``interval_start`` seconds
    growing by ``interval_step`` up to ``interval_max``."""
    if not retry:
        return fn(*args)
    max_retries: int | None = -1  # the policy is read at the first failure
    wait, step, most = 0.0, 0.0, 0.0
    retries, uncertain = 0, False
    while True:
        try:
            return fn(*args)
        except DuplicateJob:
            if not uncertain:
                raise
            # The connection dropped while an earlier attempt committed: the jobs are stored.
            log.warning("The enqueue had been stored before the connection dropped; not sending it twice.")
            return None  # type: ignore[return-value]
        except (StoreLocked, StoreUnavailable) as exc:  # busy, or the server is restarting
            uncertain = uncertain or isinstance(exc, StoreUnavailable)
            if max_retries == -1:
                max_retries, wait, step, most = publish_policy(policy)
            if max_retries is not None and retries >= max_retries:
                raise type(exc)(
                    f"{exc.message} The enqueue was retried {retries} time(s) (retry_policy max_retries="
                    f"{max_retries}) and nothing was enqueued."
                ) from exc
            retries += 1
            log.warning("Store busy or unreachable; retrying the enqueue in %.2fs (retry %d of %s).",
                        wait, retries, max_retries)
            time.sleep(wait)
            wait = min(wait + step, most)


def call_retry(conf: Settings, options: dict) -> tuple[bool, dict]:
    """(retry, policy) of a call, taken out of its ``options``, else the app's settings; a per-call
    policy is checked now, the app's when it was set."""
    retry = options.pop("retry", conf.task_publish_retry)
    policy = options.pop("retry_policy", None)
    if policy is None:
        return retry, conf.task_publish_retry_policy
    policy = {**conf.task_publish_retry_policy, **policy}
    publish_policy(policy)
    return retry, policy


def publish_policy(policy: dict) -> tuple[int | None, float, float, float]:
    """(max_retries, interval_start, interval_step, interval_max) of a retry_policy, checked."""
    unknown = set(policy) - set(DEFAULT_PUBLISH_RETRY_POLICY)
    if unknown:
        raise InvalidOptionError(f"retry_policy has unknown key(s) {sorted(unknown)}; "
                                 f"the keys are {sorted(DEFAULT_PUBLISH_RETRY_POLICY)}.")
    policy = {**DEFAULT_PUBLISH_RETRY_POLICY, **policy}
    max_retries = check_max_retries(policy["max_retries"], "retry_policy max_retries")
    start, step, most = (seconds(policy[k], f"retry_policy {k}")
                         for k in ("interval_start", "interval_step", "interval_max"))
    return max_retries, min(start, most), step, most
