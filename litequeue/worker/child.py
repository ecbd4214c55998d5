"""What runs in a pool child: take jobs from the shared feed, run each, send back a Reply for each.

The child's life around the execute pipeline (execute.py): say "began" as it takes a job, send
the reply with the next "began", recycle itself after max_tasks_per_child / max_memory_per_child,
leave Ctrl-C and SIGTERM to the parent, die with it, and take SIGUSR1 as the soft time limit.
A child touches the database only to claim a job for itself when the main process arms it while
idle (child_wake.py); the main process records every Reply.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from .. import signals
from ..errors import SoftTimeLimitExceeded
from .child_wake import IdleWait
from .execute import ChildContext, Reply, Work, execute, task_running
from .wire import EMPTY, Channel, FeedReader

__all__ = ["ChildContext", "ChildSettings", "Reply", "Work", "began", "child_main", "execute", "retiring"]

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
    idle = IdleWait(feed, channel, ctx.resolver.app)
    done, reply = 0, None
    try:
        while True:
            frames: list[tuple] = [] if reply is None else [_encodable(reply)]
            message = feed.take(wait=False) if frames else idle.next()
            if message is EMPTY:  # nothing more to do now: the reply goes at once
                channel.send_all(frames)
                reply = None
                continue
            frames += idle.take_outbox()  # how an arming ended (wake_claims.py), before what follows
            if message is None:
                channel.send_all(frames)
                return
            if type(message) is Work:  # claimed at a wake-up
                channel.send_all([*frames, began(message.id)])
                work = message
            else:
                channel.send_all([*frames, began(message[0])])
                work = Work._make(message) if len(message) > 1 else _big_work(channel)
            _current[0] = work.id
            reply = execute(work, ctx)
            done += 1
            reason = _recycling(done, settings)
            if reason:
                channel.send_all([_encodable(reply), retiring(reason)])
                return
    except (EOFError, OSError):
        return


def _big_work(channel: Channel) -> Work:
    """A job too big for the feed, sent on this child's own pipe (a DISARM sent before the main
    process heard that the arming had ended is skipped)."""
    while True:
        for frame in channel.receive():
            if not isinstance(frame[0], str):
                return Work._make(frame)


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


def _announce_exit() -> None:
    """Send worker_process_shutdown when this pool child exits on its own (told to stop, or
    recycled): multiprocessing runs its finalizers then, unlike atexit. A killed child sends none."""
    import multiprocessing.util

    pid = os.getpid()
    multiprocessing.util.Finalize(None, lambda: signals.worker_process_shutdown.send(sender=None, pid=pid, exitcode=0),
                                  exitpriority=10)



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
    if task_running.is_set() and target == _current[0]:  # not one meant for the job before
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
