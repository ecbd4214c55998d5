"""Which queues a worker consumes, and in what order."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ..store import ClaimRequest, Job
from ..store.rate_buckets import LATE_START_LIMIT

if TYPE_CHECKING:
    from ..routing import Routing


def select_queues(routing: Routing, queues: tuple[str, ...] | None, exclude: tuple[str, ...]) -> list[str] | None:
    """The queues a worker consumes, in order (None: every queue but ``exclude``)."""
    routing.check()
    if not queues:
        return None
    routing.check_worker_queues(queues)
    selected = [q for q in dict.fromkeys(queues) if q not in exclude]
    if not selected:
        raise ConfigurationError(f"-X excludes every queue given to -Q ({', '.join(queues)}); leave one in.")
    return selected


def interleave(jobs: list[Job], queues: list[str]) -> list[Job]:
    """One job of each queue in turn: [a1, a2, b1] -> [a1, b1, a2]."""
    groups = [[j for j in jobs if j.queue == q] for q in queues]
    return [j for turn in itertools.zip_longest(*groups) for j in turn if j is not None]


def rotate_after(queues: list[str], served: str) -> list[str]:
    """The queue order for the next round-robin claim: starting after the last queue served."""
    last = queues.index(served)
    return queues[last + 1:] + queues[:last + 1]


class ClaimOrder:
    """What a worker's claims ask for, and the order to run what they return: the queues in
    strict order (or every queue), or round-robin: one job of each queue in turn, the next claim
    starting with the queue after the last one served."""

    def __init__(self, queues: list[str] | None, exclude: tuple[str, ...], round_robin: bool, lease: float) -> None:
        self.queues, self.exclude, self.lease = queues, exclude, lease
        self.round_robin = round_robin and queues is not None

    def request(self, n: int, limited_room: int | None = None, late_start: float = LATE_START_LIMIT) -> ClaimRequest:
        """A claim of ``n`` jobs, at most ``limited_room`` of them under a rate or concurrency
        limit, whose children may begin rate-limited ones up to ``late_start`` after their start."""
        if not self.round_robin:
            return ClaimRequest(self.queues, self.exclude, n, self.lease, None, limited_room, late_start)
        assert self.queues is not None
        return ClaimRequest(self.queues, (), n, self.lease, -(-n // len(self.queues)), limited_room, late_start)

    def arrange(self, jobs: list[Job]) -> list[Job]:
        """Claimed jobs in the order to run them (round-robin also moves the next claim on)."""
        if not self.round_robin or not jobs:
            return jobs
        assert self.queues is not None
        jobs = interleave(jobs, self.queues)
        self.queues = rotate_after(self.queues, jobs[-1].queue)
        return jobs
