"""The prefork pool: N children that only run tasks, supervised by the worker's main process.

The main process hands a child one job at a time over a pipe, enforces time limits on the
monotonic clock (SIGUSR1 for the soft limit, SIGKILL for the hard one), notices a child that
died, and replaces children that crashed, overran, or reached their recycling limits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import selectors
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..store import Job
from .child import ChildContext, Reply, Work, child_main
from .spawning import SpawnContext, spawned_child_main

log = logging.getLogger("litequeue.worker")


@dataclass(frozen=True)
class Limits:
    """Time limits (seconds) for one job and the child recycling thresholds."""

    soft: float | None = None
    hard: float | None = None


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
    """One pool process and the job it is running, if any."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.job: Job | None = None
        self.started = 0.0
        self.limits = Limits()
        self.soft_sent = False
        self.killed_for: str | None = None
        self.jobs_done = 0

    @property
    def pid(self) -> int:
        return self.process.pid


class Pool:
    """A fixed number of children; ``collect`` returns what finished and who died."""

    def __init__(self, size: int, ctx: ChildContext, max_tasks_per_child: int | None = None,
                 max_memory_kib: int | None = None, start_method: str = "fork") -> None:
        self.size = size
        self.ctx = ctx
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_kib = max_memory_kib
        self.mp = multiprocessing.get_context(start_method)
        # A forked child inherits ctx; a spawned one gets a picklable description to rebuild it from.
        self._target, self._child_ctx = ((child_main, ctx) if start_method == "fork"
                                         else (spawned_child_main, SpawnContext.of(ctx)))
        self.children: list[Child] = []
        self.selector = selectors.DefaultSelector()  # children's pipes and sentinels, plus watch()ed

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
        return [c for c in self.children if c.job is None]

    def busy(self) -> list[Child]:
        return [c for c in self.children if c.job is not None]

    def dispatch(self, child: Child, job: Job, limits: Limits) -> None:
        child.job, child.limits = job, limits
        child.started, child.soft_sent, child.killed_for = time.monotonic(), False, None
        child.conn.send(Work.of(job))

    def collect(self, ready: list[Any]) -> list[tuple[Job, Reply | Death]]:
        """Replies from children that finished, and deaths of children (replaced at once)."""
        out: list[tuple[Job, Reply | Death]] = []
        for child in list(self.children):
            if child.conn in ready and child.job is not None:
                reply = self._receive(child)
                if reply is not None:
                    out.append((child.job, reply))
                    self._finished(child)
            if child not in self.children:  # retired just now (recycling); already replaced
                continue
            if child.process.sentinel in ready:
                child.process.join(timeout=1)
                if child.job is not None:
                    out.append((child.job, Death(child.job, child.process.exitcode, child.killed_for or "crashed")))
                self._replace(child)
        return out

    def _receive(self, child: Child) -> Reply | None:
        """The reply of a child whose pipe the selector found readable (None if it closed)."""
        try:
            return child.conn.recv()
        except (EOFError, OSError):
            return None

    def _finished(self, child: Child) -> None:
        child.job = None
        child.jobs_done += 1
        if self.max_tasks_per_child and child.jobs_done >= self.max_tasks_per_child:
            log.info("Child %s ran %d jobs (max_tasks_per_child); replacing it.", child.pid, child.jobs_done)
            self._retire(child)
        elif self.max_memory_kib and _rss_of(child) > self.max_memory_kib:
            log.info("Child %s grew past max_memory_per_child; replacing it.", child.pid)
            self._retire(child)

    def _retire(self, child: Child) -> None:
        try:
            child.conn.send(None)
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
        child.conn.close()

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
                    child.conn.send(None)
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
