"""Running one attempt of a job, wherever it runs (a pool child, a thread, the solo pool, eager
mode), as a row of small steps:
resolve the task -> decode the arguments -> run under the soft limit -> classify the outcome.

The result is a Reply, a small tuple the main process turns into an Outcome; nothing here
touches the database.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
import time
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import serialization, signals, states, task_hooks
from ..errors import Ignore, MaxRetriesExceededError, NotRegistered, Reject, Replaced, Retry, SerializationError
from ..store import Job
from ..store.rate_buckets import LATE_START_LIMIT
from ..task import Request, Task, run_with_request
from .registry import TaskResolver

MAX_REPR = 200


class Work(NamedTuple):
    """What a child needs of a job to run it: a small tuple, cheap to send down the pipe."""

    id: int
    attempts: int
    task_id: str
    task: str
    body: bytes | None
    content_type: str
    eta: float | None
    expires: float | None
    queue: str
    routing_key: str
    priority: int
    max_retries: int | None
    ignore_result: bool
    not_before: float | None = None  # a rate limiter's slot a moment ahead: the run waits for it
    headers: dict | None = None  # apply_async(headers=...), for request.headers
    late_start: float = LATE_START_LIMIT  # begun later than this after not_before, it is handed back unrun

    @classmethod
    def of(cls, job: Job, late_start: float = LATE_START_LIMIT) -> Work:
        return cls(job.id, job.attempts, job.task_id, job.task, job.body, job.content_type, job.eta, job.expires,
                   job.queue, job.routing_key, job.priority, job.max_retries, job.ignore_result, job.granted_at,
                   job.options.get("headers"), late_start)


class Reply(NamedTuple):
    """A child's report of one attempt (the main process turns it into an Outcome)."""

    job_id: int
    attempt: int
    state: str
    runtime: float
    result: bytes | None = None
    result_type: str | None = None
    result_repr: str = ""
    exc_type: str | None = None
    exc_message: str | None = None
    traceback: str | None = None
    retry_at: float | None = None
    rss_kib: int = 0
    started_at: float | None = None  # wall clock, when the attempt began to run
    missed_start: float | None = None  # handed back unrun: the start granted (the pipe carries plain values)
    late_start: float | None = None  # and how late it might have begun


@dataclass
class ChildContext:
    """What a child needs to run jobs (inherited over fork)."""

    resolver: TaskResolver
    hostname: str
    accept: frozenset[str]
    result_content_type: str
    eager: bool = False  # running inline for task_always_eager / testing.drain
    revoked: Callable[[int], bool] | None = None  # whether the job with this id was revoked (is_revoked())


class Interruption(BaseException):
    """Raised into a running job by the worker itself (the solo pool: revoke with terminate, a
    cold stop, the hard time limit). Not an outcome of the task: ``execute`` lets it through to
    the pool that raised it, which reports what happened, as a pool reports a killed child."""


task_running = threading.Event()  # set while a task's code runs: only then may a soft limit interrupt it


def execute(job: Work, ctx: ChildContext) -> Reply:
    """Run one attempt of ``job`` and report what happened. Never raises, but for the worker's
    own Interruption."""
    began, started = time.time(), time.monotonic()
    task: Task | None = None
    request: Request | None = None
    try:
        if job.not_before is not None and job.not_before > began:  # the claim granted a start slot ahead
            time.sleep(job.not_before - began)  # (inside: a thread's soft limit may be raised here)
            began, started = time.time(), time.monotonic()
        task = ctx.resolver.resolve(job.task)
        args, kwargs = _decode_arguments(job, ctx.accept)
        request = _request(job, args, kwargs, ctx)
        if job.not_before is not None and time.time() - job.not_before > job.late_start:
            return _handed_back(job, started)
        value = _run(task, request, args, kwargs)
        reply = _success(job, task, value, ctx, started, request)._replace(started_at=began)
        task_hooks.succeeded(task, request, value)
        return reply
    except Interruption:
        raise
    except Ignore as ignored:  # (Replaced too) before autoretry_for and failure: never retried, as in Celery
        return _ignored(job, task, request, ignored, started)._replace(started_at=began)
    except BaseException as exc:  # noqa: BLE001 - a task may raise anything, even SystemExit
        try:
            return _failure(job, task, exc, started, request or _request(job, (), {}, ctx))._replace(started_at=began)
        except BaseException as broken:  # noqa: BLE001 - reporting it failed too: report that, plainly
            return Reply(job.id, job.attempts, states.FAILURE, time.monotonic() - started,
                         exc_type=encodable(_type_name(exc)), started_at=began,
                         exc_message=f"(the task's exception could not be reported: {type(broken).__name__})")


def _handed_back(job: Work, started: float) -> Reply:
    """The reply for a rate-limited job reached too long after its granted start (a busy machine
    woke this child late): put back, the attempt refunded, for the store to grant another start,
    so that a late start never crowds the next ones into one window."""
    late = time.time() - (job.not_before or 0.0)
    return Reply(job.id, job.attempts, states.QUEUED, time.monotonic() - started,
                 exc_message=f"reached {late * 1000:.0f} ms after the start its rate limit granted; put back for "
                             "another start", missed_start=job.not_before, late_start=job.late_start)


def _decode_arguments(job: Work, accept: frozenset[str]) -> tuple[tuple, dict]:
    args, kwargs = serialization.loads(job.body, job.content_type, accept)
    return tuple(args), dict(kwargs)


def _request(job: Work, args: tuple, kwargs: dict, ctx: ChildContext) -> Request:
    return Request(
        id=job.task_id, task=job.task, args=args, kwargs=kwargs, retries=max(job.attempts - 1, 0),
        max_retries=job.max_retries, eta=job.eta, expires=job.expires, hostname=ctx.hostname,
        called_directly=False, is_eager=ctx.eager, headers=job.headers,
        revoked_check=None if ctx.revoked is None else functools.partial(ctx.revoked, job.id),
        delivery_info={"queue": job.queue, "routing_key": job.routing_key, "priority": job.priority},
    )


def _run(task: Task, request: Request, args: tuple, kwargs: dict) -> Any:
    signals.task_prerun.send(sender=task, task_id=request.id, task=task, args=args, kwargs=kwargs)
    task_hooks.call(task, "before_start", request.id, args, kwargs)
    task_running.set()
    try:
        return run_with_request(request, lambda: _awaited(task.run(*args, **kwargs)))
    finally:
        task_running.clear()


def _awaited(value: Any) -> Any:
    """What an ``async def`` task's coroutine returns, run to its end on this thread's event
    loop (one per process or thread, kept from job to job); any other value as it is."""
    if not inspect.iscoroutine(value):
        return value
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(value)
    except BaseException:
        if asyncio.all_tasks(loop):  # interrupted (a soft limit): the next job gets a fresh loop
            close_event_loop()
        raise


def close_event_loop() -> None:
    """Close this thread's event loop for async tasks, if it has one (a thread that ends)."""
    loop, _loops.loop = getattr(_loops, "loop", None), None
    if loop is not None and not loop.is_running():
        for pending in asyncio.all_tasks(loop):
            pending.cancel()
        loop.close()


_loops = threading.local()


def _success(job: Work, task: Task, value: Any, ctx: ChildContext, started: float, request: Request) -> Reply:
    data = None
    if not (job.ignore_result or task.ignore_result):
        try:
            data = serialization.dumps(value, ctx.result_content_type)
        except SerializationError as exc:
            raise SerializationError(
                f"{job.task} returned a {type(value).__name__}, which cannot be stored as its result: {exc.message}"
            ) from exc
    signals.task_success.send(sender=task, result=value)
    signals.task_postrun.send(sender=task, task_id=job.task_id, task=task, args=request.args, kwargs=request.kwargs,
                              retval=value, state=states.SUCCESS)
    return Reply(job.id, job.attempts, states.SUCCESS, time.monotonic() - started, data,
                 ctx.result_content_type, encodable(_short_repr(value)) or "", rss_kib=_rss_kib())


def _ignored(job: Work, task: Task | None, request: Request | None, raised: Ignore, started: float) -> Reply:
    """The reply for a job whose task raised Ignore: it ends IGNORED, with nothing recorded of its
    own (the custom state it set stays) and no task_success or task_failure, as in Celery; or, when
    it called ``self.replace(sig)`` (Replaced, an Ignore), REPLACED with the signature, which the
    main process sends in its place (canvas/replace.py). task_postrun says IGNORED for both."""
    if task is not None and request is not None:
        signals.task_postrun.send(sender=task, task_id=job.task_id, task=task, args=request.args,
                                  kwargs=request.kwargs, retval=raised, state=states.IGNORED)
    if isinstance(raised, Replaced):
        return Reply(job.id, job.attempts, states.REPLACED, time.monotonic() - started, raised.encoded,
                     serialization.JSON, encodable(_short_repr(raised.signature)) or "", rss_kib=_rss_kib())
    return Reply(job.id, job.attempts, states.IGNORED, time.monotonic() - started,
                 result_repr=encodable(_short_repr(raised)) or "", rss_kib=_rss_kib())


def _failure(job: Work, task: Task | None, exc: BaseException, started: float, request: Request) -> Reply:
    runtime = time.monotonic() - started
    state, retry_at, cause = _classify(job, task, exc)
    info = cause if cause is not None else exc
    trace = None if isinstance(info, NotRegistered) else _user_traceback(info)
    if state == states.RETRY:
        signals.task_retry.send(sender=task, request=request, reason=info, einfo=trace)
    elif state == states.FAILURE:
        signals.task_failure.send(sender=task, task_id=job.task_id, exception=info, args=request.args,
                                  kwargs=request.kwargs, traceback=trace, einfo=trace)
    if state in (states.RETRY, states.FAILURE):
        task_hooks.failed(task, request, state, info, trace)
    if task is not None:
        signals.task_postrun.send(sender=task, task_id=job.task_id, task=task, args=request.args,
                                  kwargs=request.kwargs, retval=info, state=state)
    args_data = exception_args(info)
    return Reply(job.id, job.attempts, state, runtime, args_data, serialization.JSON if args_data else None,
                 exc_type=encodable(_type_name(info)), exc_message=encodable(_message(info)),
                 traceback=encodable(trace), retry_at=retry_at, rss_kib=_rss_kib())


def exception_args(exc: BaseException) -> bytes | None:
    """The exception's args as JSON, stored in the failed job's result field, so ``get()`` can
    rebuild it with the same arguments (as Celery does); None when they are not plain data."""
    try:
        return serialization.dumps(list(exc.args), serialization.JSON) if exc.args else None
    except Exception:  # arguments that are objects: the message alone is kept
        return None


def _classify(job: Work, task: Task | None, exc: BaseException) -> tuple[str, float | None, BaseException | None]:
    """(state, retry time, the exception to record) for an attempt that raised ``exc``."""
    if isinstance(exc, Retry):
        return states.RETRY, exc.when or time.time(), exc.exc or exc
    if isinstance(exc, Reject):
        return (states.QUEUED if exc.requeue else states.FAILURE), None, exc
    if task is None or isinstance(exc, (MaxRetriesExceededError, NotRegistered)):
        return states.FAILURE, None, None
    policy = task.retry_policy
    retries = max(job.attempts - 1, 0)
    if policy.autoretries(exc) and policy.may_retry(retries, job.max_retries):
        return states.RETRY, time.time() + policy.delay(retries), None
    return states.FAILURE, None, None


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the task's own frames on (litequeue's frames above them dropped)."""
    frames = exc.__traceback__
    while frames is not None and frames.tb_next is not None and _is_ours(frames.tb_frame.f_code.co_filename):
        frames = frames.tb_next
    try:
        return "".join(tb.format_exception(type(exc), exc, frames))
    except Exception:  # an exception that breaks even the traceback module: keep what can be had
        return f"{_type_name(exc)}: {_message(exc)} (its traceback could not be formatted)"


def _is_ours(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _message(exc: BaseException) -> str:
    for describe in (str, repr):
        try:
            text = describe(exc)
            if isinstance(text, str):
                return text
        except Exception:
            continue
    return f"<{type(exc).__name__} whose str() and repr() fail>"


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    if not isinstance(text, str):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


def encodable(text: str | None) -> str | None:
    """``text`` in a form UTF-8 (and so every store) can hold: a lone surrogate, which is what
    an undecodable byte of a file name becomes, is written as ``\\udcXX``."""
    if text is None or text.isascii():
        return text
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()


def _rss_kib() -> int:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except Exception:
        return 0
