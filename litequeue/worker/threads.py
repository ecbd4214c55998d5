"""The threads pool (``-P threads``): N threads in the worker's own process run the jobs.

For I/O-bound tasks (HTTP calls, database queries) and desktop apps: no fork, no re-import of the
app, a few hundred KB per thread instead of a process each. Threads take jobs from one shared
queue (fair dispatch, as in the prefork pool) and report "began" and their replies to the main
loop, which a socket pair wakes. Each thread has its own event loop for ``async def`` tasks.

Time limits, as far as threads allow: the soft limit raises SoftTimeLimitExceeded inside the
task at its next Python instruction (not inside a blocking call such as ``time.sleep``, which
sees it when the call returns). A thread cannot be killed: at the hard limit, or a revoke with
terminate, the job is recorded (TimeLimitExceeded, or REVOKED) and its thread abandoned: a new
thread takes its place, and whatever the old one returns later is dropped.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque
from typing import Any

from ..errors import SoftTimeLimitExceeded
from ..store import Job
from .children import NO_LIMITS, Death, Limits
from .execute import ChildContext, Reply, Work, close_event_loop, execute

log = logging.getLogger("litequeue.worker")


class Runner:
    """One thread of an in-process pool and the job it runs (if any)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self.running: tuple[Job, Limits] | None = None
        self.started = 0.0
        self.soft_sent = False
        self.abandoned = False  # past its hard limit or terminated: what it reports is dropped

    @property
    def limits(self) -> Limits:
        return self.running[1] if self.running else NO_LIMITS


class InlinePool:
    """What the threads and solo pools share: jobs queued in this process, "began" and replies
    as events the main loop collects (the same bookkeeping the prefork pool keeps)."""

    def __init__(self, size: int, ctx: ChildContext) -> None:
        self.size = size
        self.ctx = ctx
        self.selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self.selector.register(self._wake_reader, selectors.EVENT_READ, self._wake_reader)
        self.children: list[Runner] = []
        self.closed = False  # stopped: takes no more jobs
        self.queued: dict[int, tuple[Job, Limits]] = {}
        self.unstarted: list[Job] = []
        self.began: list[tuple[Job, float]] = []
        self.cancelled: set[int] = set()
        self._events: deque[tuple] = deque()  # ("began", runner, job id, monotonic, wall) / ("reply", runner, Reply)
        self._deaths: list[tuple[Job, str]] = []  # jobs given up on (hard limit, terminate) and why
        self.revoked: set[int] = set()  # running jobs revoked (their is_revoked() is true)
        self.ctx = dataclasses.replace(ctx, revoked=self.revoked.__contains__)

    def watch(self, obj: Any) -> None:
        self.selector.register(obj, selectors.EVENT_READ, obj)

    def select(self, timeout: float | None) -> set[Any]:
        return {key.data for key, _ in self.selector.select(timeout)}

    def running(self) -> list[Job]:
        return [r.running[0] for r in self.children if r.running]

    def lookahead(self) -> int:
        """No claims beyond the prefetch window (threads are told of new jobs at once)."""
        return 0

    def held(self) -> list[Job]:
        """Every job handed over and not reported yet: running, queued, or given up on (its
        Death not collected yet)."""
        return self.running() + [job for job, _ in self.queued.values()] + [job for job, _ in self._deaths]

    def holding(self) -> int:
        return len(self.queued) + self.busy()

    def busy(self) -> int:
        """How many runners run a job now (safe to ask from another thread)."""
        return sum(1 for r in list(self.children) if r.running)

    def free(self) -> int:
        return max(sum(1 for r in self.children if not r.running) - len(self.queued), 0)

    def _event(self, *event: Any) -> None:
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"!")
        except OSError:
            pass  # the buffer is full: the loop is awake anyway

    def collect(self, ready: set[Any]) -> list[tuple[Job, Reply | Death]]:
        if self._wake_reader in ready:
            try:
                while self._wake_reader.recv(4096):
                    pass
            except OSError:
                pass
        out: list[tuple[Job, Reply | Death]] = [(job, Death(job, None, why, "thread"))
                                                 for job, why in self._deaths]
        self._deaths.clear()
        while self._events:
            kind, runner, *rest = self._events.popleft()
            if runner.abandoned:
                continue
            if kind == "began":
                self._on_began(runner, *rest)
            elif runner.running is not None:
                out.append((runner.running[0], rest[0]))
                self.revoked.discard(runner.running[0].id)
                runner.running = None
        return out

    def _on_began(self, runner: Runner, job_id: int, started: float, wall: float) -> None:
        entry = self.queued.pop(job_id, None)
        if entry is None:
            return
        runner.running, runner.started, runner.soft_sent = entry, started, False
        self.began.append((entry[0], wall))
        if job_id in self.cancelled:
            self.cancelled.discard(job_id)
            self.terminate(job_id)

    def revoke_running(self, job_id: int) -> bool:
        """Tell the running job ``job_id`` it was revoked (its ``self.is_revoked()`` turns true)."""
        if job_id in {job.id for job in self.running()}:
            self.revoked.add(job_id)
            return True
        return False

    def terminate(self, job_id: int) -> bool:
        """Revoke with terminate: a job still queued is revoked as it begins (a running one is
        the pool's own business: see ThreadPool)."""
        if job_id in self.queued:
            self.cancelled.add(job_id)
            return True
        return False

    def next_deadline(self) -> float | None:
        now, soonest = time.monotonic(), None
        for runner in self.children:
            if runner.running is None:
                continue
            for limit, done in ((runner.limits.soft, runner.soft_sent), (runner.limits.hard, False)):
                if limit is not None and not done:
                    left = runner.started + limit - now
                    soonest = left if soonest is None else min(soonest, left)
        return None if soonest is None else max(soonest, 0.0)

    def close(self) -> None:
        self.closed = True
        self.selector.close()
        self._wake_reader.close()
        self._wake_writer.close()


class ThreadPool(InlinePool):
    """N threads in this process, fed from one queue."""

    def __init__(self, size: int, ctx: ChildContext) -> None:
        super().__init__(size, ctx)
        self._feed: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._numbers = iter(range(1, 1 << 30))
        self._ids: dict[int, int] = {}  # job id -> ident of the thread running it

    def start(self) -> None:
        self.children = [self._spawn() for _ in range(self.size)]

    def _spawn(self) -> Runner:
        runner = Runner(f"litequeue-thread-{next(self._numbers)}")
        runner.thread = threading.Thread(target=self._run, args=(runner,), name=runner.name, daemon=True)
        runner.thread.start()
        return runner

    def _run(self, runner: Runner) -> None:
        try:
            while not runner.abandoned:  # once abandoned, its job was recorded and a new thread has its place
                try:
                    if not self._run_one(runner):
                        return
                except BaseException as exc:  # noqa: BLE001 - a limit's exception that arrived just after its job
                    log.debug("Thread %s: %r between jobs.", runner.name, exc)
        finally:
            close_event_loop()

    def _run_one(self, runner: Runner) -> bool:
        work = self._feed.get()
        if work is None:
            return False
        self._ids[work.id] = threading.get_ident()
        try:
            self._event("began", runner, work.id, time.monotonic(), time.time())
            reply = execute(work, self.ctx)
        finally:
            self._ids.pop(work.id, None)
        if not runner.abandoned:
            self._event("reply", runner, reply)
        return True

    def submit(self, job: Job, limits: Limits) -> bool:
        self.queued[job.id] = (job, limits)
        self._feed.put(Work.of(job, limits.late_start))
        return True

    def take_back(self) -> list[Job]:
        ids = []
        while True:
            try:
                work = self._feed.get_nowait()
            except queue.Empty:
                break
            if work is not None:
                ids.append(work.id)
        return [self.queued.pop(job_id)[0] for job_id in ids if job_id in self.queued]

    def enforce_limits(self) -> None:
        now = time.monotonic()
        for runner in list(self.children):
            if runner.running is None:
                continue
            elapsed = now - runner.started
            if runner.limits.hard is not None and elapsed >= runner.limits.hard:
                self._abandon(runner, "time_limit")
            elif runner.limits.soft is not None and elapsed >= runner.limits.soft and not runner.soft_sent:
                runner.soft_sent = True
                self._raise_in(runner, SoftTimeLimitExceeded)

    def _raise_in(self, runner: Runner, exc_type: type[BaseException]) -> None:
        job = runner.running[0] if runner.running else None
        ident = self._ids.get(job.id) if job else None
        if ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))

    def _abandon(self, runner: Runner, reason: str) -> None:
        """The job is over for the worker (hard limit, terminate); its thread is left to end
        by itself (told to, at its next instruction) and a new one takes its place."""
        assert runner.running is not None
        job = runner.running[0]
        self.revoked.add(job.id)  # if it looks before the exception reaches it
        runner.abandoned = True
        self._raise_in(runner, SystemExit)
        self._deaths.append((job, reason))
        self.children[self.children.index(runner)] = self._spawn()
        self._wake()

    def terminate(self, job_id: int) -> bool:
        for runner in self.children:
            if runner.running is not None and runner.running[0].id == job_id:
                self._abandon(runner, "terminated")
                return True
        return super().terminate(job_id)

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        self.take_back()
        for _ in self.children:
            self._feed.put(None)
        if not kill:
            deadline = time.monotonic() + timeout
            for runner in self.children:
                if runner.thread is not None:
                    runner.thread.join(max(deadline - time.monotonic(), 0.1))
        self.children = []
        self.close()
