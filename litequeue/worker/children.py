"""A pool child as the main process sees it: the process, its pipe, the job it runs under which
time limits, and how it died (the values the pools report with)."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..store import Job
from ..store.rate_buckets import LATE_START_LIMIT
from .wire import Channel


@dataclass(frozen=True)
class Limits:
    """Time limits (seconds) for one job, and how late after the start a rate limit granted it
    the job may begin (else its child hands it back unrun)."""

    soft: float | None = None
    hard: float | None = None
    late_start: float = LATE_START_LIMIT


NO_LIMITS = Limits()


@dataclass(frozen=True)
class Death:
    """A child died while running ``job``: how (exit code or signal) and why it was killed."""

    job: Job
    exitcode: int | None
    reason: str  # "crashed", "time_limit", "terminated"
    runner: str = "process"  # what ran it: "process" (prefork), "thread" (-P threads), "solo", "none" (never began)

    def describe(self) -> str:
        if self.runner == "thread":  # a thread cannot be killed: it is told to stop and replaced
            why = "ran past its hard time_limit" if self.reason == "time_limit" else "was revoked with terminate"
            return f"the job {why}; the thread running it was told to stop and a new thread took its place"
        if self.runner == "solo":  # the job runs in the worker itself: an exception raised in it ends it
            why = "ran past its hard time_limit" if self.reason == "time_limit" else "was revoked with terminate"
            return f"the job {why}; the worker (-P solo) raised an exception in it to stop it"
        if self.runner == "none":
            return "the job was revoked with terminate before it began"
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
    """One pool process and the job it runs (if any)."""

    def __init__(self, process: Any, conn: Connection, soft_target: Any = None, revoked: Any = None) -> None:
        self.process = process
        self.channel = Channel(conn)
        self.soft_target = soft_target  # shared with the child: which job a SIGUSR1 is meant for
        self.revoked = revoked  # shared with the child: a running job revoked without terminate
        self.running: tuple[Job, Limits] | None = None
        self.started = 0.0  # when the running job began (monotonic, the child's reading)
        self.soft_sent = False
        self.killed_for: str | None = None
        self.kill_target = 0  # the job id the kill was meant for
        self.retiring = False  # exits by itself after its last reply (recycling)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def conn(self) -> Connection:
        return self.channel.conn

    @property
    def job(self) -> Job | None:
        """The job running now, if any."""
        return self.running[0] if self.running else None

    @property
    def limits(self) -> Limits:
        return self.running[1] if self.running else NO_LIMITS
