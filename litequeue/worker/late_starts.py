"""How late a worker's children may begin the rate-limited jobs it claims: widened when they were late.

A rate limit grants each start as a window (store/rate_buckets.py): the child begins the job at
its start or up to the claim's tolerance after it, else hands it back unrun, and the store gives
the start back. On a machine so loaded that children wake late again and again, a fixed tolerance
would hand the same job back for ever. So a worker whose child missed a start widens the
tolerance of its next claims to twice the lateness seen (the buckets it grants from then open as
much later: the rate slows while the machine is slow, and never exceeds the limit), and narrows
it by half every NARROW_AFTER seconds without a miss, back to LATE_START_LIMIT.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..store import Job
from ..store.rate_buckets import LATE_START_LIMIT

NARROW_AFTER = 10.0  # seconds without a missed start before the tolerance is halved
MOST = 30.0  # the widest tolerance (seconds): a child later than this still hands its job back
_REMEMBERED = 4096  # claimed jobs whose tolerance is kept until they are handed to a child


class LateStarts:
    """One worker's tolerance for late starts, and the one each claimed job was granted with."""

    def __init__(self) -> None:
        self.tolerance = LATE_START_LIMIT
        self.changed_at = time.monotonic()
        self._granted: dict[int, float] = {}  # job id -> the tolerance its claim was made with

    def current(self) -> float:
        """The tolerance for the next claim (narrowed first if no start was missed for a while)."""
        now = time.monotonic()
        while self.tolerance > LATE_START_LIMIT and now - self.changed_at >= NARROW_AFTER:
            self.tolerance = max(self.tolerance / 2, LATE_START_LIMIT)
            self.changed_at += NARROW_AFTER
        return self.tolerance

    def claimed(self, jobs: Iterable[Job]) -> None:
        """Remember the tolerance the claim that returned ``jobs`` was made with (``current()``'s
        last value), for those a rate limit granted a start."""
        for job in jobs:
            if job.granted_at is not None:
                self._granted[job.id] = self.tolerance
        while len(self._granted) > _REMEMBERED:  # jobs revoked or released before they reached a child
            del self._granted[next(iter(self._granted))]

    def take(self, job_id: int) -> float:
        """The tolerance for the child that runs job ``job_id`` (once: it is handed over now)."""
        return self._granted.pop(job_id, LATE_START_LIMIT)

    def missed(self, granted: float) -> None:
        """A child handed back unrun a job whose start, ``granted``, it reached too late."""
        late = max(time.time() - granted, 0.0)
        self.tolerance = min(max(self.tolerance * 2, late * 2), MOST)
        self.changed_at = time.monotonic()
