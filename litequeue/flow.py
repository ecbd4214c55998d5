"""Flow control above the store: reading rate limits, and the keys a call's job is stored with.

The limits themselves are enforced by the store, inside its claim and enqueue transactions
(``store/flow.py`` and the modules it names): a job's unique key and concurrency key are computed here, at enqueue, and
stored with the job; rate and concurrency limits of tasks and queues are rows of ``lq_limits``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import ConfigurationError, InvalidOptionError
from .names import check_name
from .store import Flow

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
RATE_MARGIN, RATE_MARGIN_MAX = 0.02, 0.05  # of the period, and at most (seconds)
KEY_SEPARATOR = "\x1f"  # between a key's task name and its value (no task name holds it)
_MAX_VALUE = 160  # longer key values are stored as a hash


def parse_rate(value: Any, what: str) -> float | None:
    """Seconds between two starts for Celery's rate forms: ``"10/s"``, ``"100/m"``,
    ``"1000/h"``, or a number (per second). None (or 0) is no limit.

    The starts are spread over the period plus a small margin (2 %, at most 50 ms), so that
    the moments between a start granted by the store and the task's first line (which vary by
    a few milliseconds, and a job later than store.rate_buckets.LATE_START_LIMIT is not begun) never let one start
    more into any window of one period."""
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if text is None:
        raise ConfigurationError(f"{what}: a rate limit is a string like '10/s', '100/m' or '1000/h', not {value!r}.")
    count, _, unit = text.partition("/")
    period = _PERIODS.get(unit.strip()[:1].lower() if unit.strip() else "s")
    try:
        per_period = float(count)
    except ValueError:
        per_period = -1.0
    if period is None or per_period < 0 or per_period != per_period or per_period == float("inf"):
        raise ConfigurationError(
            f"{what}: {value!r} is not a rate limit; write it as jobs per second, minute or hour: "
            "'10/s', '100/m', '1000/h' (or a number, per second).")
    return (period + min(period * RATE_MARGIN, RATE_MARGIN_MAX)) / per_period if per_period else None


def check_concurrency(value: Any, what: str) -> int | None:
    """A concurrency limit: None, or an integer >= 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"{what}: concurrency must be an integer >= 1 (or None for no limit), not {value!r}.")
    return value


def check_seconds(value: Any, what: str) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
                              or value == float("inf")):
        raise ConfigurationError(f"{what}: unique_for must be a positive number of seconds, not {value!r}.")
    return None if value is None else float(value)


class FlowSpec(NamedTuple):
    """What a call's options and its task decide about uniqueness and concurrency keys."""

    task: str
    unique_for: float | None
    unique_key: Callable[..., Any] | str | None
    concurrency: int | None
    concurrency_key: Callable[..., Any] | None

    def flow(self, args: tuple, kwargs: dict, now: float, copy_of: str | None = None) -> Flow:
        """The keys of one call's job (``copy_of``: the queue of a fanned-out copy)."""
        unique: str | None = None
        until: float | None = None
        key: str | None = None
        if self.unique_for is not None:
            value = self._value(self.unique_key, args, kwargs, "unique_key") if self.unique_key is not None \
                else _digest(args, kwargs)
            unique = _key(self.task, value if copy_of is None else f"{value}{KEY_SEPARATOR}{copy_of}")
            until = now + self.unique_for
        if self.concurrency is not None:
            key = self.task if self.concurrency_key is None else \
                _key(self.task, self._value(self.concurrency_key, args, kwargs, "concurrency_key"))
        return Flow(unique, until, key, self.concurrency)

    def _value(self, fn: Any, args: tuple, kwargs: dict, what: str) -> str:
        if isinstance(fn, str):
            return fn
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            raise InvalidOptionError(
                f"{self.task}: its {what} raised {type(exc).__name__}: {exc}. It is called with the job's "
                "arguments (args and kwargs); fix it to accept them.") from exc
        if not isinstance(value, (str, int, float, bool, tuple)) or value is None:
            raise InvalidOptionError(
                f"{self.task}: its {what} returned {value!r}; return a string or a number.")
        return str(value)


def spec_for(name: str, task: Any, options: dict) -> FlowSpec | None:
    """The flow spec of a call (None when neither uniqueness nor a concurrency key applies)."""
    topts = task.options if task is not None else None
    unique_for = options.get("unique_for", getattr(topts, "unique_for", None))
    unique_for = _call_seconds(unique_for)
    unique_key = options.get("unique_key", getattr(topts, "unique_key", None))
    if unique_key is not None and not (callable(unique_key) or isinstance(unique_key, str)):
        raise InvalidOptionError(f"unique_key for {name} must be a function of the call's arguments or a string.")
    concurrency = getattr(topts, "concurrency", None)
    if unique_for is None and concurrency is None:
        return None
    return FlowSpec(name, unique_for, unique_key, concurrency, getattr(topts, "concurrency_key", None))


def _call_seconds(value: Any) -> float | None:
    try:
        return check_seconds(value, "unique_for")
    except ConfigurationError as exc:
        raise InvalidOptionError(exc.message) from None


def _key(task: str, value: str) -> str:
    if len(value) > _MAX_VALUE:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{task}{KEY_SEPARATOR}{value}"


def _digest(args: tuple, kwargs: dict) -> str:
    """A call's arguments, canonically (keyword order does not matter), as a short hash."""
    try:
        text = json.dumps([list(args), kwargs], sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr((args, sorted(kwargs.items())))
    return "args:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def key_value(key: str) -> str:
    """The user's part of a stored key (what status shows): the text after the task name."""
    return key.split(KEY_SEPARATOR, 1)[1] if KEY_SEPARATOR in key else key


def code_limits(app: Any) -> tuple[dict[str, tuple[str | None, float | None, int | None]], list[str]]:
    """The limits the app's code declares, as ``Store.declare_limits`` takes them: its tasks'
    ``rate_limit`` (from the decorator, changed by ``task_annotations``; else
    ``task_default_rate_limit``) and ``concurrency``, its queues' (``task_queues``), and every
    name it knows. With ``worker_disable_rate_limits`` (Celery's switch), no rate from the code:
    only rates set at run time apply."""
    declared: dict[str, tuple[str | None, float | None, int | None]] = {}
    known: list[str] = []
    rates = not app.conf.worker_disable_rate_limits
    for name, task in app.tasks.items():
        known.append("task:" + name)
        rate = task.rate_limit if rates else None  # its own, else task_default_rate_limit
        interval = parse_rate(rate, f"{name} rate_limit")
        if interval or task.options.concurrency:
            declared["task:" + name] = (str(rate) if interval else None, interval, task.options.concurrency)
    for queue in app.conf.task_queues or ():
        known.append("queue:" + queue.name)
        interval = parse_rate(queue.rate_limit if rates else None, f"Queue {queue.name!r} rate_limit")
        if interval or queue.concurrency:
            declared["queue:" + queue.name] = (str(queue.rate_limit) if interval else None, interval, queue.concurrency)
    return declared, known


def check_rate_target(app: Any, target: str) -> None:
    """Refuse a rate limit for a task or queue neither the app nor the store knows: stored, it
    would limit nothing, and a misspelt name would look like success."""
    check_name(target, "rate_limit's task name")
    kind, name = ("queue", target[len("queue:"):]) if target.startswith("queue:") else ("task", target)
    if f"{kind}:{name}" in {row.name for row in app.store.limits()}:
        return
    if kind == "task" and name not in app.tasks:
        raise InvalidOptionError(
            f"rate_limit: unknown task {name!r}: it is not registered in this app and the store holds no limit "
            "for it. Check the spelling, or load the app that defines it (litequeue -A proj ..., or import its "
            "tasks module); a queue is named queue:NAME.")
    if kind == "queue" and name not in known_queues(app):
        raise InvalidOptionError(
            f"rate_limit: unknown queue {name!r}: it is not declared (task_queues) and the store holds no job, "
            "limit or worker of it. Check the spelling, or declare it in task_queues.")


def known_queues(app: Any) -> set[str]:
    """The queues the app declares (its default queue when it declares none) and those the store
    knows of: holding jobs, paused, or consumed by a worker."""
    from .consumers import parse
    from .monitoring import summarize_queues

    store = app.store
    known = {q.name for q in summarize_queues(app.conf, store.counts(), store.paused_queues())}
    for worker in store.workers():
        known.update(parse(worker.queues)[0] or ())
    return known


def set_rate_limit(store: Any, target: str, rate: Any) -> str:
    """Store a run-time rate for a task (or ``queue:<name>``); None resets to the code's. Returns
    what was done, in words."""
    check_name(target, "rate_limit's task name")
    name = target if target.startswith("queue:") else "task:" + target
    if rate is None:
        row = next((r for r in store.limits() if r.name == name), None)
        code = row.rate if row is not None else None
        store.set_rate_override(name, None, parse_rate(code, target) if code else None)
        return f"rate limit of {target} reset to {code or 'none'}"
    interval = parse_rate(rate, f"rate limit for {target}")
    store.set_rate_override(name, str(rate), interval)
    return f"new rate limit set successfully: {target} {rate}" if interval else f"rate limit of {target} lifted"


def held_back_dict(held: Any) -> dict[str, Any]:
    """A ``HeldBack`` as status, inspect and JSON show it: what holds the jobs back, and why."""
    import time

    kind, _, target = held.limit.partition(":") if held.limit.startswith(("task:", "queue:")) else ("", "", "")
    task, key = (held.limit.split(KEY_SEPARATOR, 1) + [None])[:2] if not kind else (None, None)
    if held.kind == "rate":
        reason = f"rate limited until {time.strftime('%H:%M:%S', time.localtime(held.until))}"
    elif kind == "queue":
        reason = f"waiting for a concurrency slot of queue {target} ({held.running} of {held.concurrency} running)"
    elif key is not None:
        reason = f"waiting for a concurrency slot of key {key} ({held.running} of {held.concurrency} running)"
    else:
        reason = f"waiting for a concurrency slot ({held.running} of {held.concurrency} running)"
    return {
        "limit": held.kind, "task": target if kind == "task" else task, "queue": target if kind == "queue" else None,
        "key": key, "waiting": held.waiting, "until": held.until, "running": held.running,
        "concurrency": held.concurrency, "reason": reason,
    }
