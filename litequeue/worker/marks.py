"""RESERVED -> STARTED: the jobs children have begun that the store still reads as RESERVED.

A child's "began" is not written at once. Its mark goes with the next write of outcomes, or on
its own once the job has run MARK_AFTER seconds; a job that begins and ends sooner costs no write
of its own (its outcome records when it began).
"""

from __future__ import annotations

import time

from ..store import Job

MARK_AFTER = 0.1  # seconds a begun job may read RESERVED when no outcome is written meanwhile

Mark = tuple[int, int, float]  # (job id, attempt, wall time it began): what the store marks STARTED


class BeganMarks:
    """When each running job began, and which of them are not yet marked STARTED in the store."""

    def __init__(self) -> None:
        self.began: dict[int, float] = {}  # job id -> when a child began it (wall clock)
        self.unmarked: dict[int, Mark] = {}  # begun, still RESERVED in the store
        self.since = 0.0  # monotonic time the oldest unwritten mark arrived

    def note(self, job: Job, when: float) -> None:
        """A child began ``job`` at ``when`` (wall clock)."""
        self.began[job.id] = when
        self.unmarked[job.id] = (job.id, job.attempts, when)
        self.since = self.since or time.monotonic()

    def ended(self, job_id: int) -> float | None:
        """The job's outcome is in (it records when the job began, so no mark is needed): when
        it began, if a child said so."""
        began = self.began.pop(job_id, None)
        self.unmarked.pop(job_id, None)
        if not self.unmarked:
            self.since = 0.0
        return began

    def due(self, now: float) -> bool:
        """Whether marks alone call for a write now (``now`` on the monotonic clock)."""
        return bool(self.unmarked) and now - self.since >= MARK_AFTER

    def wait_left(self) -> float | None:
        """Seconds until marks alone call for a write; None when no mark waits."""
        if not self.unmarked:
            return None
        return max(self.since + MARK_AFTER - time.monotonic(), 0.0)

    def take_due(self) -> dict[int, Mark]:
        """The marks to write now: those of jobs running for MARK_AFTER or more."""
        cutoff = time.time() - MARK_AFTER
        due = {job_id: mark for job_id, mark in self.unmarked.items() if mark[2] <= cutoff}
        for job_id in due:
            del self.unmarked[job_id]
        oldest = min((mark[2] for mark in self.unmarked.values()), default=None)  # wall clock
        self.since = 0.0 if oldest is None else time.monotonic() - (time.time() - oldest)
        return due

    def take_all(self) -> dict[int, Mark]:
        """Every mark not yet written, to write now (a solo job about to run in the loop itself)."""
        marks, self.unmarked, self.since = self.unmarked, {}, 0.0
        return marks

    def put_back(self, marks: dict[int, Mark]) -> None:
        """Marks taken for a write that failed: written with the next one."""
        self.unmarked = {**marks, **self.unmarked}
