"""The solo pool (``-P solo``): jobs run one at a time in the worker's main loop itself.

For debugging (a breakpoint in a task just works, the traceback is the worker's) and for
platforms without fork. While a job runs, the worker's guard thread (solo_guard.py) renews its
lease and hears revokes and stop requests. What must reach the job itself is raised in it, by a
signal to the main thread: past the soft limit SoftTimeLimitExceeded (SIGALRM), past the hard
limit TimeLimitExceeded (recorded FAILURE, as a prefork pool records a child it killed), and on a
revoke with terminate or a cold stop (SIGUSR2) an Interruption that ends it: recorded REVOKED, or
handed back to the queue. An exception is not a kill: a task that catches every exception can
swallow one and run on. Signals reach only the main thread: a worker run in another thread
(``app.worker(pool="solo")``) applies no time limit and cannot stop a running job (a warning says
so, once); a revoked job still sees ``is_revoked()``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from typing import Any, Protocol

from ..errors import SoftTimeLimitExceeded, TimeLimitExceeded
from ..store import Job
from .children import Death, Limits
from .execute import ChildContext, Interruption, Reply, Work, execute, task_running
from .stopping import in_main_thread
from .threads import InlinePool, Runner

log = logging.getLogger("litequeue.worker")
INTERRUPT = signal.SIGUSR2  # the guard thread's "stop the job now" to the main thread


class HardTimeLimit(TimeLimitExceeded, Interruption):
    """The job ran past its hard time_limit: raised in it under ``-P solo`` (an ``except
    TimeLimitExceeded`` in the task sees it)."""


class Stopped(Interruption):
    """The worker stopped the job running in it (a revoke with terminate, or a cold stop)."""


class Beside(Protocol):
    """What runs beside each job (the worker's SoloGuard): told before the job runs and after."""

    def begin(self, job: Job) -> None: ...

    def end(self) -> None: ...

    def close(self) -> None: ...


class SoloPool(InlinePool):
    """One job at a time, run inside ``collect``."""

    def __init__(self, size: int, ctx: ChildContext) -> None:
        super().__init__(1, ctx)
        self._feed: deque[Job] = deque()
        self.beside: Beside | None = None  # given by the worker
        self.in_main = False  # the loop runs in the main thread: signals can reach the job
        self._current: Job | None = None  # the job whose code runs now: only it may be interrupted
        self._asked: str | None = None  # an interruption asked for ("terminated", "cold"), not raised yet
        self._why: str | None = None  # the interruption raised in the current job
        self._alarms: list[tuple[float, str]] = []  # (seconds after the start, "soft"/"hard") to come
        self._handlers: dict[int, Any] = {}  # the signal handlers ours replaced
        self._warned: set[str] = set()

    def start(self) -> None:
        self.children = [Runner("solo")]
        self.in_main = in_main_thread()
        if self.in_main:
            self._handlers[INTERRUPT] = signal.signal(INTERRUPT, self._on_interrupt)

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
            report = self._run(job) if job.id in self.queued else None
            if report is not None:
                out.append((job, report))
        return out

    def _run(self, job: Job) -> Reply | Death | None:
        """Run ``job``: its report, or None when a cold stop ended it (it stays running, for the
        worker's stop to hand back)."""
        if job.id in self.cancelled:  # revoked with terminate before it began
            self.cancelled.discard(job.id)
            del self.queued[job.id]
            return Death(job, None, "terminated", "none")
        runner, limits = self.children[0], self.queued[job.id][1]
        self._on_began(runner, job.id, time.monotonic(), time.time())
        self._asked = self._why = None
        if self.beside is not None:
            self.beside.begin(job)
        try:
            reply = self._execute(job, limits)
        finally:
            if self.beside is not None:
                self.beside.end()
        self.revoked.discard(job.id)
        if self._why == "cold":
            return None
        runner.running = None
        return reply if self._why is None else Death(job, None, self._why, "solo")

    def _execute(self, job: Job, limits: Limits) -> Reply | None:
        """The job's reply, or None when the worker interrupted it (``_why`` says why)."""
        self._current = job
        try:
            if self._asked is not None:  # asked before it could begin
                self._why = self._asked
                return None
            self._arm(job, limits)
            return execute(Work.of(job, limits.late_start), self.ctx)
        except Interruption:
            return None
        finally:
            self._current = None  # first: from here on, no signal raises in this frame
            self._disarm()

    def _arm(self, job: Job, limits: Limits) -> None:
        """Set SIGALRM for the job's soft limit (when below the hard one) and its hard limit."""
        soft, hard = limits.soft or None, limits.hard or None
        alarms = [(soft, "soft")] if soft is not None and (hard is None or soft < hard) else []
        alarms += [(hard, "hard")] if hard is not None else []
        if not alarms:
            return
        if not self.in_main:
            self._warn_once("limits", "Task %s has a time limit, which -P solo cannot apply when the worker runs "
                            "outside the main thread (app.worker(pool='solo')): use -P threads for time limits "
                            "there.", job.task)
            return
        self._alarms = alarms
        self._handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, alarms[0][0])

    def _disarm(self) -> None:
        if signal.SIGALRM in self._handlers:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _restore(signal.SIGALRM, self._handlers.pop(signal.SIGALRM))
        self._alarms = []

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self._current is None or not self._alarms:
            return
        at, kind = self._alarms.pop(0)
        if self._alarms:  # the hard limit, after the soft one
            signal.setitimer(signal.ITIMER_REAL, max(self._alarms[0][0] - at, 0.001))
        if kind == "soft":
            if task_running.is_set():  # only in the task's own code, as in a pool process
                raise SoftTimeLimitExceeded("The job ran past its soft_time_limit.")
            return
        self._why = self._why or "time_limit"
        raise HardTimeLimit(f"The job ran past its hard time_limit ({at:g} s).")

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        if self._current is not None and self._asked is not None:
            self._why, self._asked = self._asked, None
            raise Stopped(f"The worker stopped the job ({self._why}).")

    def interrupt(self, why: str) -> None:
        """Stop the running job now (from the guard thread): ``why`` is "terminated" (recorded
        REVOKED) or "cold" (handed back). Outside the main thread it cannot (a warning says so):
        the job runs to its end, and a terminated one is then recorded REVOKED all the same."""
        if not self.running() or self._asked or self._why in (why, "cold"):  # (a cold stop overrides the rest)
            return
        if not self.in_main:
            self._warn_once(why, "A %s cannot interrupt a -P solo job when the worker runs outside the main "
                            "thread (app.worker(pool='solo')): the job runs until it returns.",
                            "revoke with terminate" if why == "terminated" else "cold stop")
            if why == "terminated":
                self._why = why
            return
        self._asked = why
        main = threading.main_thread().ident
        if main is not None:
            signal.pthread_kill(main, INTERRUPT)

    def terminate(self, job_id: int) -> bool:
        running = self.running()
        if running and running[0].id == job_id:
            self.revoked.add(job_id)  # is_revoked() is true even where no exception can reach it
            self.interrupt("terminated")
            return True
        return super().terminate(job_id)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def enforce_limits(self) -> None:
        """Nothing runs between the loop's turns: limits are applied while the job runs."""

    def next_deadline(self) -> float | None:
        return None  # limits are SIGALRM's business, and a job handed back waits for nothing

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        self.take_back()
        self.children = []
        if self.beside is not None:
            self.beside.close()
        if INTERRUPT in self._handlers:
            _restore(INTERRUPT, self._handlers.pop(INTERRUPT))
        self.close()


def _restore(signum: int, handler: Any) -> None:
    signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
