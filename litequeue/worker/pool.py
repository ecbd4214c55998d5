"""The prefork pool: N children that only run tasks, supervised by the worker's main process.

The main process hands jobs to a child over a pipe, enforces time limits on the monotonic clock
(SIGUSR1 for the soft limit, SIGKILL for the hard one), notices a child that died, and replaces
children that crashed, overran, or reached their recycling limits.

A child runs one job at a time. While jobs are short, more wait in its pipe (one while they
average under 10 ms, seven while they average under 1 ms), so the child starts the next the
moment it replies instead of idling for a round trip through the main process, and the main
process writes results and claims in bigger batches (see ``may_queue`` for when it is allowed).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import selectors
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..store import Job
from .child import ChildContext, Reply, Work, child_main
from .spawning import SpawnContext, spawned_child_main
from .wire import Channel

log = logging.getLogger("litequeue.worker")

QUEUE_BELOW = 0.01  # seconds: the average run time under which one more job may wait in a pipe
QUEUE_DEEP_BELOW, QUEUE_DEEP = 0.001, 8  # and under which seven may wait (jobs of well under 1 ms)
QUEUE_MAX_BODY = 8 * 1024  # bytes: a bigger job never waits (seven must fit the pipe's buffer)
_RUNTIME_WEIGHT = 0.2  # of the newest run time in the moving average


@dataclass(frozen=True)
class Limits:
    """Time limits (seconds) for one job and the child recycling thresholds."""

    soft: float | None = None
    hard: float | None = None


NO_LIMITS = Limits()


@dataclass(frozen=True)
class Death:
    """A child died while running ``job``: how (exit code or signal) and why it was killed."""

    job: Job
    exitcode: int | None
    reason: str  # "crashed", "time_limit", "terminated"

    def describe(self) -> str:
        if self.reason == "time_limit":
            return "the job ran past its hard time_limit and was killed"
        code = self.exitcode
        if code is not None and code < 0:
            try:
                return f"the process running it died with signal {signal.Signals(-code).name}"
            except ValueError:
                return f"the process running it died with signal {-code}"
        return f"the process running it exited with code {code}"


class Child:
    """One pool process and the jobs handed to it: the first is running, any after it wait."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.channel = Channel(conn)
        self.in_flight: deque[tuple[Job, Limits]] = deque()
        self.started = 0.0  # when the running job started (monotonic)
        self.soft_sent = False
        self.killed_for: str | None = None
        self.jobs_done = 0
        self.retiring = False  # takes no more jobs; replaced once its last one is done

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def conn(self) -> Connection:
        return self.channel.conn

    @property
    def job(self) -> Job | None:
        """The job running now, if any."""
        return self.in_flight[0][0] if self.in_flight else None

    @property
    def limits(self) -> Limits:
        return self.in_flight[0][1] if self.in_flight else NO_LIMITS

    def begin_next(self) -> None:
        self.started, self.soft_sent, self.killed_for = time.monotonic(), False, None


class Pool:
    """A fixed number of children; ``collect`` returns what finished and who died."""

    def __init__(self, size: int, ctx: ChildContext, max_tasks_per_child: int | None = None,
                 max_memory_kib: int | None = None, start_method: str = "fork") -> None:
        self.size = size
        self.ctx = ctx
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_kib = max_memory_kib
        self.mp: Any = multiprocessing.get_context(start_method)
        # A forked child inherits ctx; a spawned one gets a picklable description to rebuild it from.
        self._target: Callable[..., None] = child_main if start_method == "fork" else spawned_child_main
        self._child_ctx: Any = ctx if start_method == "fork" else SpawnContext.of(ctx)
        self.children: list[Child] = []
        self.selector = selectors.DefaultSelector()  # children's pipes and sentinels, plus watch()ed
        self.unstarted: list[Job] = []  # jobs that waited in the pipe of a child that died
        self.average_runtime: float | None = None  # seconds, a moving average of recent jobs

    def watch(self, obj: Any) -> None:
        """Also wake ``select`` when ``obj`` (anything with fileno()) becomes readable."""
        self.selector.register(obj, selectors.EVENT_READ, obj)

    def select(self, timeout: float | None) -> set[Any]:
        """Wait until a child reports or dies, or a watched object is readable."""
        return {key.data for key, _ in self.selector.select(timeout)}

    def start(self) -> None:
        self.children = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> Child:
        parent_end, child_end = self.mp.Pipe()
        process = self.mp.Process(target=self._target, args=(child_end, self._child_ctx, os.getpid()),
                                  name="litequeue-child", daemon=False)
        process.start()
        child_end.close()
        self.selector.register(parent_end, selectors.EVENT_READ, parent_end)
        self.selector.register(process.sentinel, selectors.EVENT_READ, process.sentinel)
        return Child(process, parent_end)

    def idle(self) -> list[Child]:
        return [c for c in self.children if not c.in_flight and not c.retiring]

    def busy(self) -> list[Child]:
        return [c for c in self.children if c.in_flight]

    def in_flight(self) -> list[Job]:
        """Every job handed to a child and not reported yet (running or waiting in its pipe)."""
        return [job for child in self.children for job, _ in child.in_flight]

    def may_queue(self, child: Child, job: Job, limits: Limits) -> bool:
        """Whether ``job`` may wait in the pipe of ``child`` behind the ones it holds: only while
        recent jobs were short, no job involved has a time limit (a limit's signal must reach the
        job it is meant for), the job is small, and it would not take the child past
        max_tasks_per_child."""
        return (1 <= len(child.in_flight) < self._depth() and not child.retiring
                and limits == NO_LIMITS and child.limits == NO_LIMITS
                and len(job.body or b"") <= QUEUE_MAX_BODY
                and (not self.max_tasks_per_child
                     or child.jobs_done + len(child.in_flight) + 1 <= self.max_tasks_per_child))

    def _depth(self) -> int:
        """How many jobs a child may hold (running plus waiting), by the recent average run time."""
        average = self.average_runtime
        if average is None or average >= QUEUE_BELOW:
            return 1
        return QUEUE_DEEP if average < QUEUE_DEEP_BELOW else 2

    def dispatch(self, child: Child, job: Job, limits: Limits) -> bool:
        """Send ``job`` to ``child``; True if sent. If the child has just died (its death not
        collected yet), the job goes to ``unstarted`` and the child takes no more."""
        try:
            child.channel.send(tuple(Work.of(job)))
        except OSError:
            self.unstarted.append(job)
            child.retiring = True
            return False
        child.in_flight.append((job, limits))
        if len(child.in_flight) == 1:
            child.begin_next()
        return True

    def collect(self, ready: set[Any]) -> list[tuple[Job, Reply | Death]]:
        """Replies from children that finished, and deaths of children (replaced at once).
        Jobs that waited in a dead child's pipe never started: they are left in ``unstarted``."""
        out: list[tuple[Job, Reply | Death]] = []
        for child in list(self.children):
            died = child.process.sentinel in ready
            if child.conn in ready or died:  # a dead child's last replies are read first
                for reply in self._receive(child, died):
                    out.append((self._finished_one(child), reply))
                    self.note_runtime(reply.runtime)
                self._recycle(child)
            if child not in self.children:  # retired just now (recycling); already replaced
                continue
            if died:
                child.process.join(timeout=1)
                if child.in_flight:
                    job = child.in_flight[0][0]
                    out.append((job, Death(job, child.process.exitcode, child.killed_for or "crashed")))
                    self.unstarted += [waiting for waiting, _ in list(child.in_flight)[1:]]
                self._replace(child)
        return out

    def _receive(self, child: Child, died: bool = False) -> list[Reply]:
        """The replies a child whose pipe was found readable has sent ([] if it closed); of a
        dead child, every reply it wrote, however long."""
        try:
            messages = child.channel.receive_rest() if died else child.channel.receive(wait=False)
        except (EOFError, OSError):
            return []
        return [Reply._make(message) for message in messages]

    def _finished_one(self, child: Child) -> Job:
        """The running job has replied: the one waiting behind it (if any) is now running."""
        job, _ = child.in_flight.popleft()
        child.jobs_done += 1
        if child.killed_for is not None:  # the kill meant for the job that just finished is on its
            self.unstarted += [waiting for waiting, _ in child.in_flight]  # way: the waiting jobs
            child.in_flight.clear()  # run elsewhere, and the child takes no more
            child.retiring = True
        elif child.in_flight:
            child.begin_next()
        return job

    def note_runtime(self, seconds: float) -> None:
        average = self.average_runtime
        self.average_runtime = seconds if average is None else average + _RUNTIME_WEIGHT * (seconds - average)

    def _recycle(self, child: Child) -> None:
        """Replace a child that reached max_tasks_per_child or max_memory_per_child once its
        jobs are done (until then it takes no more)."""
        if self.max_tasks_per_child and child.jobs_done >= self.max_tasks_per_child and not child.retiring:
            log.info("Child %s ran %d jobs (max_tasks_per_child); replacing it.", child.pid, child.jobs_done)
            child.retiring = True
        elif self.max_memory_kib and not child.retiring and _rss_of(child) > self.max_memory_kib:
            log.info("Child %s grew past max_memory_per_child; replacing it.", child.pid)
            child.retiring = True
        if child.retiring and not child.in_flight:
            self._retire(child)

    def _retire(self, child: Child) -> None:
        try:
            child.channel.send(None)
        except OSError:
            pass
        child.process.join(timeout=5)
        if child.process.is_alive():
            child.process.kill()
            child.process.join()
        self._replace(child)

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

    def enforce_limits(self) -> None:
        """Send SIGUSR1 past the soft limit and SIGKILL past the hard one (reported by collect)."""
        now = time.monotonic()
        for child in self.busy():
            elapsed = now - child.started
            if child.limits.hard is not None and elapsed >= child.limits.hard and child.killed_for is None:
                child.killed_for = "time_limit"
                _signal(child.pid, signal.SIGKILL)
            elif child.limits.soft is not None and elapsed >= child.limits.soft and not child.soft_sent:
                child.soft_sent = True
                _signal(child.pid, signal.SIGUSR1)

    def next_deadline(self) -> float | None:
        """Seconds until the next time limit falls due, or None."""
        now, soonest = time.monotonic(), None
        for child in self.busy():
            for limit, done in ((child.limits.soft, child.soft_sent), (child.limits.hard, child.killed_for)):
                if limit is not None and not done:
                    left = child.started + limit - now
                    soonest = left if soonest is None else min(soonest, left)
        return None if soonest is None else max(soonest, 0.0)

    def terminate(self, job_id: int) -> bool:
        """Kill the child running ``job_id`` (revoke with terminate); collect reports it."""
        for child in self.busy():
            if child.job is not None and child.job.id == job_id and child.killed_for is None:
                child.killed_for = "terminated"
                _signal(child.pid, signal.SIGKILL)
                return True
        return False

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop every child: ask idle ones to exit; with ``kill``, kill them all at once."""
        for child in self.children:
            if kill:
                _signal(child.pid, signal.SIGKILL)
            else:
                try:
                    child.channel.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        for child in self.children:
            child.process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
            self._forget(child)
        self.children = []


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _rss_of(child: Child) -> int:
    """Resident memory of a child in KiB (Linux /proc; 0 where unknown)."""
    try:
        with open(f"/proc/{child.pid}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0
