"""Revokes of the jobs a worker holds, acted on in milliseconds.

A revoke wakes the worker that holds the job (the store's wake-up); the worker then reads the
revoke flags of the jobs it holds (one read by primary key, at most every REVOKE_LOOK_EVERY
seconds), and heartbeats see the flags too. A running job revoked with terminate is killed; one
revoked without is told (its ``is_revoked()`` turns true); a job claimed but not begun is
recorded REVOKED without running.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from ..store import Job, Outcome
from . import job_signals, outcomes

if TYPE_CHECKING:
    from ..store import Store
    from .pools import AnyPool
    from .registry import TaskResolver

log = logging.getLogger("litequeue.worker")
REVOKE_LOOK_EVERY = 0.005  # seconds: how often a woken worker may look for revokes of its jobs


class RevokeWatch:
    """Looks for revokes of held jobs and tells the pool about running ones, once per job."""

    def __init__(self) -> None:
        self._next_look = 0.0
        self.owed = False  # a wake-up came too soon after the last look: look once the time comes
        self._told: set[int] = set()  # running jobs already terminated or told of their revoke
        # Revoked jobs a child took from the pool's feed and has not yet said it began ({id:
        # terminate}): out of reach of take_back, acted on the moment their "began" arrives.
        self.deferred: dict[int, bool] = {}

    def look(self, store: Store, held: list[int]) -> dict[int, bool] | None:
        """After a wake-up: the revoke requests (job id -> terminate) among ``held``, or None
        when it is too soon to look again or nothing is held."""
        now = time.monotonic()
        if not held:
            self.owed = False
            return None
        if now < self._next_look:
            self.owed = True  # never dropped: the revoke that woke us may be this one
            return None
        self._next_look, self.owed = now + REVOKE_LOOK_EVERY, False
        return store.revoke_requests(held)

    def owed_in(self) -> float | None:
        """Seconds until a look put off by the throttle is due (0: now), or None."""
        return max(self._next_look - time.monotonic(), 0.0) if self.owed else None

    def act(self, requests: dict[int, bool], pool: AnyPool) -> set[int]:
        """Terminate or tell the running jobs among ``requests``; the ids of the others (not
        running: reserved, in the pool's feed, or already gone)."""
        running = {job.id: job for job in pool.running()}
        for job_id, terminate in requests.items():
            job = running.get(job_id)
            if job is None or job_id in self._told:
                continue
            self._told.add(job_id)
            if terminate:
                log.info("Task %s[%s] revoked; terminating it.", job.task, job.task_id)
                pool.terminate(job_id)
            elif pool.revoke_running(job_id):
                log.info("Task %s[%s] revoked while running; its is_revoked() is now true.", job.task, job.task_id)
        return set(requests) - set(running)

    def defer(self, requests: dict[int, bool]) -> None:
        """Revokes of jobs a child has taken but not begun: to act on once they begin."""
        self.deferred.update(requests)

    def begun(self, job_ids: list[int]) -> dict[int, bool]:
        """The deferred revokes of jobs that have just begun."""
        return {job_id: self.deferred.pop(job_id) for job_id in job_ids if job_id in self.deferred}

    def ended(self, job_id: int) -> None:
        """The job's outcome is in."""
        self._told.discard(job_id)
        self.deferred.pop(job_id, None)


def take_revoked(pool: AnyPool, reserved: deque[Job], revoked: set[int], resolver: TaskResolver,
                 worker: str) -> tuple[deque[Job], list[Outcome]]:
    """Reserved jobs (claimed ahead, or waiting in the pool's feed) revoked before they began:
    the reserve without them, and their REVOKED outcomes (task_revoked is sent for each, as
    Celery's worker sends it when it discards a revoked task)."""
    if not revoked or not (revoked & {job.id for job in reserved} or revoked & set(pool.queued)):
        return reserved, []
    waiting = [*pool.take_back(), *reserved]  # the feed's come first
    ended = []
    for job in waiting:
        if job.id in revoked:
            log.info("Task %s[%s] revoked before it began.", job.task, job.task_id)
            ended.append(outcomes.revoked_unstarted(job))
            job_signals.revoked(resolver, job, worker)
    return deque(job for job in waiting if job.id not in revoked), ended


def take_expired(reserved: deque[Job], resolver: TaskResolver, worker: str) -> list[Job]:
    """Take the jobs at the head of the reserve whose expiry time has passed out of it: they are
    revoked without running (task_revoked is sent with ``expired=True``)."""
    now, expired = time.time(), []
    while reserved and reserved[0].expires is not None and reserved[0].expires <= now:
        job = reserved.popleft()
        log.info("Task %s[%s] expired before it started; revoked.", job.task, job.task_id)
        job_signals.revoked(resolver, job, worker, expired=True)
        expired.append(job)
    return expired
