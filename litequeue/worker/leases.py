"""The leases a worker holds: renewed at each heartbeat for the jobs it really holds; a lease
lost meanwhile (it expired, and the job may run elsewhere) is reported once per job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..store import Job

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("litequeue.worker")


class Leases:
    """Renews ``owner``'s leases by ``seconds`` and remembers which running jobs lost theirs."""

    def __init__(self, owner: str, seconds: float) -> None:
        self.owner = owner
        self.seconds = seconds
        self._lost: set[int] = set()  # running jobs whose lost lease was reported

    def renew(self, store: Store, held: list[int], running: list[Job],
              spare_since: float | None = None) -> dict[int, bool]:
        """Extend the leases of ``held`` (the jobs this worker holds): {job id: revoke asked}
        for those still leased to it. Rows leased to it that it does not hold are put back, but
        for those leased since ``spare_since`` (a child armed then may have claimed them)."""
        leased, given_up = store.extend_leases(self.owner, self.seconds, held, spare_since)
        if given_up:
            log.warning("Job(s) %s were leased to this worker but it no longer held them (an outcome's commit "
                        "undone by a database crash?): putting them back.", sorted(given_up))
        for job in running:
            if job.id not in leased:
                if job.id not in self._lost:  # once per job, not at every heartbeat
                    log.warning("Task %s[%s]: lease lost (it expired); its outcome will be ignored.",
                                job.task, job.task_id)
                self._lost.add(job.id)
        return leased

    def release_unreported(self, store: Store, held: list[int], since: float, stopping: bool = False) -> None:
        """Put back what a pool process claimed at a wake-up (armed at ``since``, lease clock) and
        died before reporting: it never began, so it is queued again at once, not at a heartbeat.
        ``stopping``: a cold stop killed it, maybe just after it began (its start stays counted)."""
        for task_id, task in store.release_unreported(self.owner, since, self.seconds, held, not stopping):
            if stopping:
                log.warning("Cold shutdown: releasing task %s[%s], claimed by a pool process as it was stopped.",
                            task, task_id)
            else:
                log.warning("Task %s[%s] was claimed by a pool process that died before beginning it: "
                            "queued again.", task, task_id)

    def forget_all_but(self, held: list[Job]) -> None:
        """Forget the lost leases of jobs no longer held."""
        self._lost &= {job.id for job in held}
