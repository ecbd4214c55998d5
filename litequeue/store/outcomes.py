"""Recording outcomes: a worker's results written in one transaction, each fenced on (job,
attempt, owner), with what they set off and the worker's next claim (a mixin of ``Store``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import states
from .claims import ClaimRequest
from .join_results import KnownResults
from .mixin import StoreMixin
from .records import FollowUp, Job, Outcome

# Completion is fenced on (job, attempt, owner). A job put back after its lease expired but not
# claimed again (same attempt number, no owner) still takes its late outcome: no other attempt
# owns it, and running it again would only repeat work that is done. (A job claimed again and then
# requeued by Reject gets that attempt number back, and so takes a late outcome too, for the
# same reason.)
_FENCE = "((lease_owner = ? AND state IN ('RESERVED', 'STARTED')) OR (lease_owner IS NULL AND state = 'QUEUED'))"
_BEGAN = ("UPDATE lq_jobs SET state = 'STARTED', started_at = ? "
          "WHERE id = ? AND attempts = ? AND lease_owner = ? AND state = 'RESERVED'")
# An IGNORED job keeps the custom state its task stored (update_state) and its meta, which is
# what Celery code reads for it; every other outcome clears them.
_FINISH = (
    "UPDATE lq_jobs SET state = ?, result = ?, exc_type = ?, exc_message = ?, traceback = ?, "
    "result_type = CASE WHEN ? THEN result_type ELSE ? END, custom_state = CASE WHEN ? THEN custom_state END, "
    "meta = CASE WHEN ? THEN meta END, history = COALESCE(?, history), "
    "eta = COALESCE(?, eta), wait_until = ?, "
    "due_at = COALESCE(?, due_at), started_at = COALESCE(?, started_at), "
    "done_at = ?, attempts = attempts - ?, lease_owner = NULL, lease_until = NULL "
    "WHERE id = ? AND attempts = ? AND " + _FENCE
)
_DELETE_FENCED = "DELETE FROM lq_jobs WHERE id = ? AND attempts = ? AND " + _FENCE


class _SomeFenced(Exception):
    """A batch of outcomes held one that its fence refused (the batch is then rolled back)."""


class OutcomeStore(StoreMixin):
    """finish, finish_and_claim."""

    if TYPE_CHECKING:
        def _claim_in_transaction(self, owner: str, request: ClaimRequest) -> list[tuple]: ...
        def _follow_up(self, follow_ups: list[FollowUp], now: float) -> int: ...
        def _refund_missed_starts(self, applied: list[Outcome]) -> None: ...

        known_results: KnownResults

    def finish(self, owner: str, outcomes: Sequence[Outcome],
               began: Sequence[tuple[int, int, float]] = ()) -> list[Outcome]:
        """Record outcomes in one transaction, each fenced on (job id, attempt, owner): a worker
        that lost its lease changes nothing. Returns the outcomes that were applied. ``began``
        marks jobs begun STARTED, as in ``finish_and_claim``."""
        return self.finish_and_claim(owner, outcomes, ClaimRequest(None, (), 0, 0.0), began)[0]

    def finish_and_claim(self, owner: str, outcomes: Sequence[Outcome], claim: ClaimRequest,
                         began: Sequence[tuple[int, int, float]] = ()) -> tuple[list[Outcome], list[Job]]:
        """``finish(outcomes)`` and then ``claim(**claim)``, in one transaction (one commit for a
        worker's results and its next jobs). ``began`` marks RESERVED jobs that a child has begun
        (job id, attempt, when) as STARTED in the same transaction: a job that begins and ends
        between two commits goes from RESERVED to its outcome with no write of its own.
        Returns (outcomes applied, jobs claimed).

        What an applied outcome sets off (``Outcome.then``: a chain's next step, links,
        errbacks, a chord's join step) is written in the same transaction, before the claim, so
        a chain's next step can be claimed by this very worker; an outcome its fence refuses
        sets off nothing. A chord whose last member this is enqueues its callback here."""
        now = time.time()
        marks = [(when, job_id, attempt, owner) for job_id, attempt, when in began]
        batches = (  # built before the write lock is taken
            (_FINISH, [_finish_row(o, owner, now) for o in outcomes if o.keep]),
            (_DELETE_FENCED, [(o.job_id, o.attempt, owner) for o in outcomes if not o.keep]),
        )
        known = self.known_results
        try:
            with self.errors():
                try:
                    with self.write():
                        self._mark_began(marks)
                        self._finish_batches(batches)
                        applied = list(outcomes)
                        self._refund_missed_starts(applied)
                        enqueued = self._follow_ups(applied, now)
                        rows = self._claim_in_transaction(owner, claim)
                except _SomeFenced:  # rolled back: find out outcome by outcome which ones still apply
                    known.discard()
                    with self.write():
                        self._mark_began(marks)
                        applied = [o for o in outcomes if self._finish_one(owner, o, now)]
                        self._refund_missed_starts(applied)
                        enqueued = self._follow_ups(applied, now)
                        rows = self._claim_in_transaction(owner, claim)
        except BaseException:
            known.discard()
            raise
        known.commit()  # chord members' results recorded: the join need not read them back
        if enqueued > len(rows):  # not all taken by this worker: wake the others
            self.notify()
        return applied, Job.all_from_rows(rows)  # made after the commit: not while holding the write lock

    def _follow_ups(self, applied: list[Outcome], now: float) -> int:
        follow_ups: list[FollowUp] = [o.then for o in applied if o.then]
        return self._follow_up(follow_ups, now) if follow_ups else 0

    def _mark_began(self, rows: list[tuple]) -> None:
        """Inside the caller's transaction: RESERVED jobs begun become STARTED (a job no longer
        reserved by this owner, its lease lost, is left alone)."""
        if rows:
            self.db.cursor().executemany(self.sql(_BEGAN), rows)

    def _finish_batches(self, batches: Sequence[tuple[str, list[tuple]]]) -> None:
        """The usual case, one statement per kind for the whole batch; raises _SomeFenced when
        any outcome was refused by its fence (the caller's transaction then rolls back)."""
        for statement, rows in batches:
            if not rows:
                continue
            cursor = self.db.cursor()
            cursor.executemany(self.sql(statement), rows)
            if cursor.rowcount != len(rows):  # the rows changed, summed over the batch
                raise _SomeFenced

    def _finish_one(self, owner: str, o: Outcome, now: float) -> bool:
        if not o.keep:
            return bool(self.db.execute_sql(self.sql(_DELETE_FENCED), (o.job_id, o.attempt, owner)).rowcount)
        return bool(self.db.execute_sql(self.sql(_FINISH), _finish_row(o, owner, now)).rowcount)


def _finish_row(o: Outcome, owner: str, now: float) -> tuple:
    waits = o.state == states.RETRY and o.retry_at is not None and o.retry_at > now
    done = now if o.state in states.READY_STATES else None
    history = json.dumps(o.history) if o.history is not None else None
    ignored = o.state == states.IGNORED  # its custom state and meta stay
    return (
        o.state, o.result, o.exc_type, o.exc_message, o.traceback, ignored, o.result_type, ignored, ignored, history,
        o.retry_at if o.state == states.RETRY else None, o.retry_at if waits else None,
        o.retry_at if o.state == states.RETRY else None, o.started_at, done,
        int(o.state == states.QUEUED),  # put back as it was (Reject with requeue): the attempt is refunded
        o.job_id, o.attempt, owner,
    )
