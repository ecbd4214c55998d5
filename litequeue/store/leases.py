"""Leases: a worker's claimed jobs are leased to it; heartbeats extend the leases, and any
process puts back (or fails) the jobs of a worker that stopped heartbeating (a mixin of ``Store``)."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import states
from .mixin import StoreMixin
from .records import Job, with_attempt

_LOST = "litequeue.errors.WorkerLostError"
# A lost job runs again unless it acknowledged early (acks_late off) or used up its retries.
_LOST_FAILS = "(acks_late = ? OR (max_retries IS NOT NULL AND attempts > max_retries))"


class LeaseReport(NamedTuple):
    """What ``extend_leases`` found: {held job id: revoke requested}, and the ids of rows leased
    to the owner that it no longer held (given up, to be put back)."""

    held: dict[int, bool]
    given_up: list[int]


class LeaseStore(StoreMixin):
    """extend_leases, rescue_expired, release."""

    if TYPE_CHECKING:
        def _workflow_jobs(self, where: str, params: Sequence[Any]) -> list[Job]: ...
        def _ended_elsewhere(self, jobs: Sequence[Job], state: str, now: float) -> None: ...
        def _refund_unbegun_starts(self, grants: Sequence[tuple[str, str, float | None]]) -> None: ...

    def extend_leases(self, owner: str, lease_seconds: float, job_ids: Collection[int],
                      spare_since: float | None = None) -> LeaseReport:
        """Extend the leases of ``job_ids``, the jobs ``owner`` really holds (running, waiting to
        run, or with an outcome not yet written). Rows leased to ``owner`` that it does not hold
        (an outcome whose commit a database crash undid) get an expired lease at once, so
        ``rescue_expired`` puts them back rather than their lease being renewed forever; except
        rows leased at or after ``spare_since`` (lease clock), which may be a claim a pool process
        made and has not reported yet (worker/wake_claims.py). One transaction. Returns {job id:
        revoke requested} for the held jobs still owned (a held job missing from it was lost: its
        lease expired) and the ids of the rows given up."""
        ids = tuple(set(job_ids))
        marks = ", ".join("?" * len(ids))
        mine = "lease_owner = ? AND state IN ('RESERVED', 'STARTED')"
        spared = "" if spare_since is None else " AND lease_until < ?"
        with self.errors(), self.write():
            rows = self.db.execute_sql(self.sql(
                f"UPDATE lq_jobs SET lease_until = ? WHERE {mine} AND id IN ({marks}) RETURNING id, revoke_requested"
            ), (self.lease_clock() + lease_seconds, owner, *ids)).fetchall() if ids else []
            given_up = [row[0] for row in self.db.execute_sql(self.sql(
                f"UPDATE lq_jobs SET lease_until = 0 WHERE {mine}{spared}"
                + (f" AND id NOT IN ({marks})" if ids else "") + " RETURNING id"),
                (owner, *([] if spare_since is None else [spare_since + lease_seconds]), *ids)).fetchall()]
        held = {row[0]: bool(row[1]) for row in rows}
        return LeaseReport(held, given_up)

    def rescue_expired(self) -> list[tuple[str, str, str]]:
        """Put back every job whose lease has expired (its worker died or hung), or fail it with
        WorkerLostError when it acknowledged early or used up its retries. Atomic; any process
        may call it. Returns (task_id, task, new state) of each."""
        now = time.time()
        fails = _LOST_FAILS
        sql = (
            f"UPDATE lq_jobs SET state = CASE WHEN {fails} THEN 'FAILURE' ELSE 'QUEUED' END, "
            f"done_at = CASE WHEN {fails} THEN ? ELSE NULL END, exc_type = ?, "
            "exc_message = 'the worker ' || lease_owner || CASE WHEN lease_until = 0 "
            "THEN ' no longer held it (its outcome was lost, as when a database crash undoes a commit)' "
            "ELSE ' stopped heartbeating (lease expired)' END, "
            "lease_owner = NULL, lease_until = NULL WHERE state IN ('RESERVED', 'STARTED') AND lease_until < ? "
            "RETURNING task_id, task, state, id, durable, attempts, worker, exc_message, history"
        )
        with self.errors(), self.write():
            rows = self.db.execute_sql(self.sql(sql), (False, False, now, _LOST, self.lease_clock())).fetchall()
            lost = [r[3] for r in rows if r[2] == states.FAILURE]
            if lost:  # failed for good: their workflows' errbacks, a chord they were in fails
                flows = self._workflow_jobs(f"id IN ({', '.join('?' * len(lost))})", lost)
                self._ended_elsewhere(flows, states.FAILURE, now)
            over = [r[3] for r in rows if not r[4] and r[2] == states.FAILURE]  # transient: leave nothing
            if over:
                marks = ", ".join("?" * len(over))
                self.db.execute_sql(self.sql(f"DELETE FROM lq_jobs WHERE id IN ({marks})"), over)
            histories = [
                (json.dumps(with_attempt(json.loads(r[8] or "[]"), r[5], r[6], _LOST, r[7], None)), r[3])
                for r in rows if r[3] not in over
            ]
            if histories:
                self.db.cursor().executemany(self.sql("UPDATE lq_jobs SET history = ? WHERE id = ?"), histories)
        return [tuple(r[:3]) for r in rows]

    def release_unreported(self, owner: str, since: float, lease_seconds: float, held: Collection[int],
                           unbegun: bool = True) -> list[tuple[str, str]]:
        """Put back, queued with the attempt refunded, the rows leased to ``owner`` at or after
        ``since`` (lease clock) that it does not hold and that never began: a claim a pool process
        made at a wake-up and died before reporting (it reports in the same write as it begins).
        ``unbegun``: certainly never begun, so the starts rate limits granted them are given back
        too. Returns (task_id, task) of each."""
        ids = tuple(set(held))
        unheld = f" AND id NOT IN ({', '.join('?' * len(ids))})" if ids else ""
        sql = ("UPDATE lq_jobs SET state = 'QUEUED', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL "
               f"WHERE lease_owner = ? AND state = 'RESERVED' AND lease_until >= ?{unheld} "
               "RETURNING task_id, task, queue, granted_at")
        with self.errors(), self.write():
            rows = self.db.execute_sql(self.sql(sql), (owner, since + lease_seconds, *ids)).fetchall()
            if unbegun:
                self._refund_unbegun_starts([row[1:] for row in rows])
        return [(row[0], row[1]) for row in rows]

    def release(self, owner: str, job_ids: Sequence[int], unbegun: bool = False) -> int:
        """Give reserved or running jobs back at once (a stop): queued again, the attempt refunded.
        ``unbegun``: the worker knows none of them began, so the starts rate limits granted them
        are given back too (a job under "1/h" need not wait an hour for its next claim)."""
        if not job_ids:
            return 0
        marks = ", ".join("?" * len(job_ids))
        mine = f"lease_owner = ? AND id IN ({marks})"
        sql = ("UPDATE lq_jobs SET state = 'QUEUED', attempts = attempts - 1, lease_owner = NULL, "
               f"lease_until = NULL WHERE {mine} AND state IN ('RESERVED', 'STARTED')")
        granted_sql = f"SELECT task, queue, granted_at FROM lq_jobs WHERE {mine} AND state = 'RESERVED'"
        with self.errors(), self.write():
            granted = self.db.execute_sql(self.sql(granted_sql), (owner, *job_ids)).fetchall() if unbegun else []
            released = self.db.execute_sql(self.sql(sql), (owner, *job_ids)).rowcount
            self._refund_unbegun_starts(granted)
        return released
