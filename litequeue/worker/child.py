"""What runs in a pool child: receive jobs, run each, send back a Reply for each.

The execute pipeline is a row of small steps:
resolve the task -> decode the arguments -> run under the soft limit -> classify the outcome.
A child never touches the database; the main process records every Reply.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import os
import signal
import sys
import threading
import time
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import serialization, signals, states, task_hooks
from ..errors import MaxRetriesExceededError, NotRegistered, Reject, Retry, SerializationError, SoftTimeLimitExceeded
from ..store import Job
from ..task import Request, Task, run_with_request
from .registry import TaskResolver
from .wire import EMPTY, Channel, FeedReader

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

    @classmethod
    def of(cls, job: Job) -> Work:
        return cls(job.id, job.attempts, job.task_id, job.task, job.body, job.content_type, job.eta, job.expires,
                   job.queue, job.routing_key, job.priority, job.max_retries, job.ignore_result, job.started_at,
                   job.options.get("headers"))


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


@dataclass
class ChildContext:
    """What a child needs to run jobs (inherited over fork)."""

    resolver: TaskResolver
    hostname: str
    accept: frozenset[str]
    result_content_type: str
    eager: bool = False  # running inline for task_always_eager / testing.drain
    revoked: Callable[[int], bool] | None = None  # whether the job with this id was revoked (is_revoked())


_running = threading.Event()  # set while a task's code runs: only then may SIGUSR1 interrupt it
_current = [0]  # the id of the job running in this child (what a soft limit is checked against)


@dataclass(frozen=True)
class ChildSettings:
    """How a pool child recycles itself, and where the main process names the job a soft
    time limit is meant for (a shared integer: the signal alone cannot say)."""

    max_tasks: int | None = None
    max_memory_kib: int | None = None
    soft_target: Any = None  # multiprocessing RawValue("q"): the job id SIGUSR1 is meant for
    revoked: Any = None  # RawValue("q"): the id of a running job revoked without terminate


def began(job_id: int) -> tuple:
    """The frame a child sends as it begins a job: (job id, monotonic time, wall time)."""
    return (job_id, time.monotonic(), time.time())


def retiring(reason: str) -> tuple:
    """The frame a child sends before it exits on its own (a recycling limit reached)."""
    return (reason,)


def child_main(conn: Any, feed_end: Any, ctx: ChildContext, parent_pid: int,
               settings: ChildSettings = ChildSettings()) -> None:
    """The child's loop: take the next job from the shared feed whenever free, say so on its
    own pipe ("began"), run it, reply, until the feed says stop (None) or the parent is gone.

    The reply to one job is sent together with the "began" of the next (one write), unless the
    feed is empty: then the reply goes at once and the child waits for work."""
    _become_child(parent_pid)
    feed = FeedReader(feed_end)
    if settings.revoked is not None:
        revoked = settings.revoked
        ctx = dataclasses.replace(ctx, revoked=lambda job_id: revoked.value == job_id)
    global _soft_target
    _soft_target = settings.soft_target
    signals.worker_process_init.send(sender=ctx.hostname)
    _announce_exit()
    channel = Channel(conn)
    done, reply = 0, None
    try:
        while True:
            frames: list[tuple] = [] if reply is None else [_encodable(reply)]
            message = feed.take(wait=not frames)
            if message is EMPTY:  # nothing more to do now: the reply goes at once
                channel.send_all(frames)
                reply = None
                continue
            if message is None:
                channel.send_all(frames)
                return
            channel.send_all([*frames, began(message[0])])
            work = Work._make(message) if len(message) > 1 else Work._make(channel.receive()[0])  # a big one
            _current[0] = work.id
            reply = execute(work, ctx)
            done += 1
            reason = _recycling(done, settings)
            if reason:
                channel.send_all([_encodable(reply), retiring(reason)])
                return
    except (EOFError, OSError):
        return


def _recycling(done: int, settings: ChildSettings) -> str | None:
    """Why this child should exit after ``done`` jobs (max_tasks_per_child, max_memory_per_child)."""
    if settings.max_tasks and done >= settings.max_tasks:
        return "max_tasks_per_child"
    if settings.max_memory_kib and _current_rss_kib() > settings.max_memory_kib:
        return "max_memory_per_child"
    return None


def _current_rss_kib() -> int:
    """Resident memory of this process in KiB (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _send_reply(channel: Channel, reply: Reply) -> None:
    channel.send(_encodable(reply))


def _encodable(reply: Reply) -> tuple:
    """The reply as a tuple the pipe can encode (marshal refuses subclasses of its types)."""
    return tuple(reply) if all(v is None or type(v) in _PLAIN for v in reply) else _plain(reply)


def _plain(reply: Reply) -> tuple:
    """The reply as a tuple of exact str, bytes, int and float (the pipe's encoding refuses
    subclasses, which a task's exception message or ``Retry(when=...)`` may carry)."""
    return tuple(v if v is None or type(v) in _PLAIN else _as_plain(v) for v in reply)


def _as_plain(value: Any) -> Any:
    kinds: tuple[type, ...] = (int, float, bytes)
    for kind in kinds:
        if isinstance(value, kind):
            return kind(value)
    return str.__str__(value) if isinstance(value, str) else repr(value)


_PLAIN = frozenset({bool, int, float, str, bytes})


def execute(job: Work, ctx: ChildContext) -> Reply:
    """Run one attempt of ``job`` and report what happened. Never raises."""
    began = time.time()
    if job.not_before is not None and job.not_before > began:  # the claim granted a start slot ahead
        time.sleep(job.not_before - began)
        began = time.time()
    started = time.monotonic()
    task: Task | None = None
    request: Request | None = None
    try:
        task = ctx.resolver.resolve(job.task)
        args, kwargs = _decode_arguments(job, ctx.accept)
        request = _request(job, args, kwargs, ctx)
        value = _run(task, request, args, kwargs)
        reply = _success(job, task, value, ctx, started, request)._replace(started_at=began)
        task_hooks.succeeded(task, request, value)
        return reply
    except BaseException as exc:  # noqa: BLE001 - a task may raise anything, even SystemExit
        try:
            return _failure(job, task, exc, started, request or _request(job, (), {}, ctx))._replace(started_at=began)
        except BaseException as broken:  # noqa: BLE001 - reporting it failed too: report that, plainly
            return Reply(job.id, job.attempts, states.FAILURE, time.monotonic() - started,
                         exc_type=encodable(_type_name(exc)), started_at=began,
                         exc_message=f"(the task's exception could not be reported: {type(broken).__name__})")


def _announce_exit() -> None:
    """Send worker_process_shutdown when this pool child exits on its own (told to stop, or
    recycled): multiprocessing runs its finalizers then, unlike atexit. A killed child sends none."""
    import multiprocessing.util

    pid = os.getpid()
    multiprocessing.util.Finalize(None, lambda: signals.worker_process_shutdown.send(sender=None, pid=pid, exitcode=0),
                                  exitpriority=10)


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
    _running.set()
    try:
        return run_with_request(request, lambda: _awaited(task.run(*args, **kwargs)))
    finally:
        _running.clear()


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


def _become_child(parent_pid: int) -> None:
    """Die with the parent, leave Ctrl-C and SIGTERM to it, and let it interrupt a task softly."""
    signal.set_wakeup_fd(-1)  # the parent's wake-up socket is not ours
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, _soft_limit)
    _die_with_parent(parent_pid)


_soft_target: Any = None  # set by child_main


def _soft_limit(signum: int, frame: Any) -> None:
    target = _soft_target.value if _soft_target is not None else _current[0]
    if _running.is_set() and target == _current[0]:  # not one meant for the job before
        raise SoftTimeLimitExceeded("The job ran past its soft_time_limit.")


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while True:  # the backstop where PDEATHSIG is unavailable
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)
