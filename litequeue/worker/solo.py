"""The solo pool (``-P solo``): jobs run one at a time in the worker's main loop itself.

For debugging (a breakpoint in a task just works, the traceback is the worker's) and for
platforms without fork. While a job runs, the loop does nothing else: heartbeats wait, so a job
longer than ``worker_lease_seconds`` may be rescued and run again by another worker. Time
limits: the soft limit is raised in the task by SIGALRM when the worker runs in the main thread;
a hard limit cannot stop the loop that would enforce it, and is not applied (a warning says so).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from typing import Any

from ..errors import SoftTimeLimitExceeded
from ..store import Job
from .children import Death, Limits
from .execute import ChildContext, Reply, Work, execute
from .threads import InlinePool, Runner


class SoloPool(InlinePool):
    """One job at a time, run inside ``collect``."""

    def __init__(self, size: int, ctx: ChildContext) -> None:
        super().__init__(1, ctx)
        self._feed: deque[Job] = deque()

    def start(self) -> None:
        self.children = [Runner("solo")]

    def submit(self, job: Job, limits: Limits) -> bool:
        self.queued[job.id] = (job, limits)
        self._feed.append(job)
        self._wake()  # the loop's next select returns at once: collect runs it
        return True

    def take_back(self) -> list[Job]:
        jobs = [job for job in self._feed if job.id in self.queued]
        for job in jobs:
            del self.queued[job.id]
        self._feed.clear()
        return jobs

    def free(self) -> int:
        return 0 if self._feed else 1

    def collect(self, ready: set[Any]) -> list[tuple[Job, Reply | Death]]:
        out = super().collect(ready)
        if self._feed:
            self._wake()  # more after this one: do not sleep in between
            job = self._feed.popleft()
            if job.id in self.queued:
                out.append((job, self._run(job)))
        return out

    def _run(self, job: Job) -> Reply | Death:
        if job.id in self.cancelled:  # revoked with terminate before it began
            self.cancelled.discard(job.id)
            del self.queued[job.id]
            return Death(job, None, "terminated", "none")
        runner, limits = self.children[0], self.queued[job.id][1]
        self._on_began(runner, job.id, time.monotonic(), time.time())
        soft = limits.soft or 0.0
        alarm = soft > 0 and threading.current_thread() is threading.main_thread()
        if alarm:
            previous = signal.signal(signal.SIGALRM, _soft_limit)
            signal.setitimer(signal.ITIMER_REAL, soft)
        try:
            return execute(Work.of(job, limits.late_start), self.ctx)
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            runner.running = None

    def enforce_limits(self) -> None:
        """Nothing runs between the loop's turns: limits are applied while the job runs."""

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        self.take_back()
        self.children = []
        self.close()


def _soft_limit(signum: int, frame: Any) -> None:
    raise SoftTimeLimitExceeded("The job ran past its soft_time_limit.")
