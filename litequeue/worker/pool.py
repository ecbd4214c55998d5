"""The prefork pool: N children that only run tasks, supervised by the worker's main process.

Fair dispatch: the main process puts claimed jobs into one shared feed (wire.Feed), and
whichever child is free takes the next, so a job never waits behind a long one while another
child is idle, and a child starts its next job without a round trip through the main process.
A child says "began job X" on its own pipe as it takes X (with the reply to the job before it,
in the same write), so the main process always knows which child runs what: it enforces time
limits on the monotonic clock (SIGUSR1 for the soft limit, SIGKILL for the hard one), notices a
child that died, and replaces children that crashed, overran, or recycled themselves
(max_tasks_per_child, max_memory_per_child: a child counts and exits by itself).

Jobs bigger than FEED_MESSAGE_MAX go into the feed as a marker; the child that takes it is sent
the job on its own pipe.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import selectors
import signal
import time
from collections.abc import Callable
from typing import Any

from ..store import Job
from .child import ChildSettings, child_main
from .children import Child, Death, Limits
from .execute import ChildContext, Reply, Work
from .spawning import SpawnContext, spawned_child_main
from .wake_claims import REPORT, REPORT_LENGTH, WakeClaims
from .wire import FEED_MESSAGE_MAX, Feed

log = logging.getLogger("litequeue.worker")

LOOKAHEAD_BELOW, LOOKAHEAD_DEEP_BELOW, LOOKAHEAD_DEEP = 0.01, 0.001, 8  # see Pool.lookahead
AUDIT_AFTER = 2.0  # seconds after an unexplained child death before its taken job is looked for
_BEGAN, _RETIRING = 3, 1  # lengths of the frames a child sends besides a Reply
_RECYCLED = {"max_tasks_per_child": "ran its max_tasks_per_child jobs",
             "max_memory_per_child": "grew past max_memory_per_child"}


class Pool:
    """A fixed number of children fed from one shared feed; ``collect`` returns what finished
    and who died."""

    def __init__(self, size: int, ctx: ChildContext, max_tasks_per_child: int | None = None,
                 max_memory_kib: int | None = None, start_method: str = "fork") -> None:
        self.size = size
        self.ctx = ctx
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_kib = max_memory_kib
        self.mp: Any = multiprocessing.get_context(start_method)
        self.forks = start_method == "fork"  # children inherit the main process's descriptors
        # A forked child inherits ctx; a spawned one gets a picklable description to rebuild it from.
        self._target: Callable[..., None] = child_main if start_method == "fork" else spawned_child_main
        self._child_ctx: Any = ctx if start_method == "fork" else SpawnContext.of(ctx)
        self.children: list[Child] = []
        self.selector = selectors.DefaultSelector()  # children's pipes and sentinels, plus watch()ed
        self.feed: Feed | None = None
        self.closed = False  # stopped: takes no more jobs
        self.queued: dict[int, tuple[Job, Limits]] = {}  # in the feed, not begun (in feed order)
        self._big: dict[int, Work] = {}  # queued jobs too big for the feed, by id
        self.unstarted: list[Job] = []  # jobs handed over that never began (to be handed over again)
        self.began: list[tuple[Job, float]] = []  # (job, wall time) begun since the caller last looked
        self.cancelled: set[int] = set()  # queued jobs to be terminated the moment they begin
        self.average_runtime: float | None = None  # seconds, a moving average of recent jobs
        self._audit_at: float | None = None
        self.scale_to: tuple[int, int] | None = None  # --autoscale (max, min): size moves between them
        self.keepalive = 30.0  # seconds a child idles before autoscale stops it
        self._idle_since: float | None = None
        self._shrinking = 0  # children asked to exit (a None in the feed) and not gone yet
        self.wake_claims: WakeClaims | None = None  # an idle child claims at the wake-up (wake_claims.py)

    def watch(self, obj: Any) -> None:
        """Also wake ``select`` when ``obj`` (anything with fileno()) becomes readable."""
        self.selector.register(obj, selectors.EVENT_READ, obj)

    def select(self, timeout: float | None) -> set[Any]:
        """Wait until a child reports or dies, or a watched object is readable."""
        if self._audit_at is not None:
            timeout = min(timeout if timeout is not None else AUDIT_AFTER, max(self._audit_at - time.monotonic(), 0))
        return {key.data for key, _ in self.selector.select(timeout)}

    def start(self) -> None:
        self.feed = Feed()
        self.children = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> Child:
        assert self.feed is not None
        parent_end, child_end = self.mp.Pipe()
        soft_target, revoked = self.mp.RawValue("q", 0), self.mp.RawValue("q", 0)
        settings = ChildSettings(self.max_tasks_per_child, self.max_memory_kib, soft_target, revoked)
        process = self.mp.Process(target=self._target,
                                  args=(child_end, self.feed.reader, self._child_ctx, os.getpid(), settings),
                                  name="litequeue-child", daemon=False)
        process.start()
        child_end.close()
        self.selector.register(parent_end, selectors.EVENT_READ, parent_end)
        self.selector.register(process.sentinel, selectors.EVENT_READ, process.sentinel)
        return Child(process, parent_end, soft_target, revoked)

    def autoscale(self, waiting: int) -> None:
        """--autoscale: one more child while jobs wait and every child is busy (up to max); one
        fewer once a child has idled for ``keepalive`` seconds (down to min). The one that stops
        is whichever idle child takes the None put in the feed."""
        if self.scale_to is None or self.feed is None:
            return
        most, least = self.scale_to
        idle = sum(1 for c in self.children if not c.running and not c.retiring) - len(self.queued)
        size = len(self.children) - self._shrinking
        now = time.monotonic()
        if waiting and idle <= 0 and size < most:
            self.children.append(self._spawn())
            log.info("Autoscale: grew to %d pool processes (%d jobs waiting, every one busy).", size + 1, waiting)
            self._idle_since = None
        elif idle > 0 and not waiting and size > least:
            if self._idle_since is None:
                self._idle_since = now
            elif now - self._idle_since >= self.keepalive and self.feed.put(None):
                self._shrinking += 1
                self._idle_since = now
                log.info("Autoscale: shrank to %d pool processes (one idled %g s).", size - 1, self.keepalive)
        else:
            self._idle_since = None

    def next_scale(self) -> float | None:
        """Seconds until autoscale may stop an idle child, or None."""
        if self.scale_to is None or self._idle_since is None:
            return None
        return max(self._idle_since + self.keepalive - time.monotonic(), 0.0)

    # -- what the worker asks -------------------------------------------------------------------

    def running(self) -> list[Job]:
        """The jobs a child has begun and not finished."""
        return [c.running[0] for c in self.children if c.running]

    def held(self) -> list[Job]:
        """Every job handed to the pool and not reported yet: running, or queued in the feed."""
        return self.running() + [job for job, _ in self.queued.values()]

    def holding(self) -> int:
        """Jobs handed over and not reported, counting an armed child asked to stop watching
        (it may have claimed one): a warm stop waits for its report."""
        disarming = self.wake_claims is not None and self.wake_claims.disarming
        return len(self.queued) + self.busy() + disarming

    def busy(self) -> int:
        """How many children run a job now (safe to ask from another thread)."""
        return sum(1 for c in list(self.children) if c.running)

    def free(self) -> int:
        """How many children would start a job now if one were handed over."""
        return max(sum(1 for c in self.children if not c.running and not c.retiring) - len(self.queued), 0)

    def submit(self, job: Job, limits: Limits) -> bool:
        """Queue ``job`` in the feed for the next free child; False if the feed is full."""
        assert self.feed is not None
        work = tuple(Work.of(job, limits.late_start))
        if len(job.body or b"") + len(job.task) + 512 > FEED_MESSAGE_MAX:
            if not self.feed.put((job.id,)):  # a marker: the child is sent the job when it begins it
                return False
            self._big[job.id] = Work.of(job, limits.late_start)
        elif not self.feed.put(work):
            return False
        self.queued[job.id] = (job, limits)
        return True

    def take_back(self) -> list[Job]:
        """Take every job still in the feed back out (a stop, a revoke); in feed order. A queued
        job not found there was taken by a child meanwhile: it stays queued (its "began" is on
        the way)."""
        if self.feed is None:
            return []
        ids = [message[0] for message in self.feed.take_all() if message is not None]
        for job_id in ids:
            self._big.pop(job_id, None)
        return [self.queued.pop(job_id)[0] for job_id in ids if job_id in self.queued]

    # -- what the children say ------------------------------------------------------------------

    def collect(self, ready: set[Any]) -> list[tuple[Job, Reply | Death]]:
        """Replies from children that finished, and deaths of children (replaced at once).
        A job a dead child had taken but not begun, or that a kill meant for another job ended,
        is put in ``unstarted``."""
        out: list[tuple[Job, Reply | Death]] = []
        for child in list(self.children):
            died = child.process.sentinel in ready
            if child.conn in ready or died:  # a dead child's last frames are read first
                self._read(child, died, out)
            if died:
                self._bury(child, out)
        if self._audit_at is not None and time.monotonic() >= self._audit_at:
            self._audit(out)
        return out

    def _read(self, child: Child, died: bool, out: list[tuple[Job, Reply | Death]]) -> None:
        try:
            frames = child.channel.receive_rest() if died else child.channel.receive(wait=False)
        except (EOFError, OSError):
            return
        for frame in frames:
            if len(frame) == _BEGAN:
                self._on_began(child, *frame)
            elif len(frame) == REPORT_LENGTH and frame[0] == REPORT and self.wake_claims is not None:
                self.wake_claims.on_report(child, frame, self.queued, self.unstarted)
            elif len(frame) == _RETIRING:
                child.retiring = True
                log.info("Child %s %s; replacing it.", child.pid, _RECYCLED.get(frame[0], frame[0]))
            else:
                reply = Reply._make(frame)
                if child.running is None or child.running[0].id != reply.job_id:
                    log.warning("Ignored a reply for job %s that child %s was not known to run.",
                                reply.job_id, child.pid)
                    continue
                out.append((child.running[0], reply))
                child.running = None
                self.note_runtime(reply.runtime)

    def _on_began(self, child: Child, job_id: int, started: float, wall: float) -> None:
        entry = self.queued.pop(job_id, None)
        if entry is None:
            log.warning("Child %s began job %s, which was not queued.", child.pid, job_id)
            return
        child.running, child.started, child.soft_sent = entry, started, False
        big = self._big.pop(job_id, None)
        if big is not None:
            try:
                child.channel.send(tuple(big))
            except OSError:
                pass  # it died: reported by collect
        self.began.append((entry[0], wall))
        if job_id in self.cancelled:
            self.cancelled.discard(job_id)
            self.terminate(job_id)

    def _bury(self, child: Child, out: list[tuple[Job, Reply | Death]]) -> None:
        child.process.join(timeout=1)
        if self.wake_claims is not None:
            self.wake_claims.on_death(child)
        if child.running is not None:
            job = child.running[0]
            if child.killed_for is not None and child.kill_target != job.id:
                self.unstarted.append(job)  # the kill was meant for the job before it: run it elsewhere
            else:
                out.append((job, Death(job, child.process.exitcode, child.killed_for or "crashed")))
        elif self._shrinking and child.killed_for is None and child.process.exitcode == 0:
            self._shrinking -= 1  # autoscale asked an idle child to go: it is not replaced
            self._forget(child)
            self.children.remove(child)
            return
        elif not child.retiring:
            # It may have died between taking a job from the feed and saying so: look for it soon.
            self._audit_at = time.monotonic() + AUDIT_AFTER
        self._replace(child)

    def _audit(self, out: list[tuple[Job, Reply | Death]]) -> None:
        """After an unexplained death: every queued job no child has begun and that is no longer
        in the feed was taken by the dead child; all of them are handed over again."""
        self._audit_at = None
        still_there = self.take_back()  # first: no child can take another
        readable, _, _ = select.select([c.conn for c in self.children], [], [], 0.05)
        for child in self.children:  # "began" frames sent meanwhile are read next
            if child.conn in readable:
                self._read(child, False, out)
        lost = [job for job, _ in self.queued.values()]  # earlier in the feed than those still there
        self.queued.clear()
        self._big.clear()
        self.unstarted += lost + still_there

    def lookahead(self) -> int:
        """Jobs claimed beyond the prefetch window while recent jobs are short (a child runs
        several in the time the main process takes to claim more): 8 per child under 1 ms on
        average, 2 under 10 ms, else none. They wait in the shared feed, so fairness holds."""
        average = self.average_runtime
        if average is None or average >= LOOKAHEAD_BELOW:
            return 0
        return len(self.children) * (LOOKAHEAD_DEEP if average < LOOKAHEAD_DEEP_BELOW else 2)

    def note_runtime(self, seconds: float) -> None:
        average = self.average_runtime
        self.average_runtime = seconds if average is None else average + 0.2 * (seconds - average)

    def _forget(self, child: Child) -> None:
        for obj in (child.conn, child.process.sentinel):
            try:
                self.selector.unregister(obj)
            except (KeyError, ValueError):
                pass
        child.channel.close()

    def _replace(self, child: Child) -> None:
        self._forget(child)
        index = self.children.index(child)
        self.children[index] = self._spawn()

    # -- limits and termination -----------------------------------------------------------------

    def enforce_limits(self) -> None:
        """Send SIGUSR1 past the soft limit and SIGKILL past the hard one (reported by collect)."""
        now = time.monotonic()
        for child in self.children:
            if child.running is None:
                continue
            elapsed = now - child.started
            if child.limits.hard is not None and elapsed >= child.limits.hard and child.killed_for is None:
                self._kill(child, "time_limit")
            elif child.limits.soft is not None and elapsed >= child.limits.soft and not child.soft_sent:
                child.soft_sent = True
                if child.soft_target is not None:
                    child.soft_target.value = child.running[0].id
                _signal(child.pid, signal.SIGUSR1)

    def next_deadline(self) -> float | None:
        """Seconds until the next time limit falls due, or None."""
        now, soonest = time.monotonic(), None
        for child in self.children:
            if child.running is None:
                continue
            for limit, done in ((child.limits.soft, child.soft_sent), (child.limits.hard, child.killed_for)):
                if limit is not None and not done:
                    left = child.started + limit - now
                    soonest = left if soonest is None else min(soonest, left)
        return None if soonest is None else max(soonest, 0.0)

    def terminate(self, job_id: int) -> bool:
        """Kill the child running ``job_id`` (revoke with terminate); collect reports it. A job
        still queued is killed the moment it begins."""
        for child in self.children:
            if child.running is not None and child.running[0].id == job_id:
                if child.killed_for is None:
                    self._kill(child, "terminated")
                return True
        if job_id in self.queued:
            self.cancelled.add(job_id)
            return True
        return False

    def revoke_running(self, job_id: int) -> bool:
        """Tell the running job ``job_id`` it was revoked (its ``self.is_revoked()`` turns true)."""
        for child in self.children:
            if child.running is not None and child.running[0].id == job_id and child.revoked is not None:
                child.revoked.value = job_id
                return True
        return False

    def _kill(self, child: Child, reason: str) -> None:
        assert child.running is not None
        child.killed_for, child.kill_target = reason, child.running[0].id
        _signal(child.pid, signal.SIGKILL)

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop every child: ask them to exit once their job is done; with ``kill``, kill them
        all at once. Jobs still queued should have been taken back first (``take_back``)."""
        self.take_back()
        for child in self.children:
            if kill:
                _signal(child.pid, signal.SIGKILL)
            elif self.feed is not None:
                self.feed.put(None)
        deadline = time.monotonic() + timeout
        for child in self.children:
            child.process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
            self._forget(child)
        self.children = []
        self.closed = True
        if self.feed is not None:
            self.feed.close()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
