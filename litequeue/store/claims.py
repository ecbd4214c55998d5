"""Claiming: taking due jobs and leasing them to a worker, atomically (a mixin of ``Store``).

Every claim walks the one claim index, ``(queue, priority DESC, due_at, id)`` over claimable
rows, in order: no sort, no scan. A second index across queues would make claims on every queue
simpler but cost every enqueue one more index write, so a claim on every queue instead lists the
queues that hold claimable jobs (one index seek each) and merges the heads of their runs.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from .admin import JOB_COLUMNS
from .mixin import StoreMixin
from .models import CLAIMABLE
from .rate_buckets import LATE_START_LIMIT
from .records import FIELD_NAMES, Job

_CLAIM_SET = (
    "UPDATE lq_jobs SET state = 'RESERVED', attempts = attempts + 1, lease_owner = ?, lease_until = ?, "
    "worker = ?, started_at = ?, granted_at = NULL"
)
_CLAIM_NOW = _CLAIM_SET.replace("'RESERVED'", "'STARTED'")  # a claim to run at once, in this process
QUEUE_LIST_SECONDS = 1.0  # how long a claim on every queue trusts its list of queues holding jobs


class ClaimRequest(NamedTuple):
    """What a claim asks for (``Store.claim``'s arguments but the owner)."""

    queues: Sequence[str] | None
    exclude: Sequence[str]
    limit: int
    lease_seconds: float
    per_queue: int | None = None
    limited_room: int | None = None  # at most this many jobs under a rate limit (None: limit)
    late_start: float = LATE_START_LIMIT  # how late a child may begin a rate-limited job (rate_buckets.py)


class ClaimStore(StoreMixin):
    """claim, claim_by_id; promote_due and next_eta (jobs whose eta has come become claimable)."""

    _queue_list: tuple[float, list[str]] = (float("-inf"), [])  # (when listed, monotonic; names)
    _from_queue: str | None = None  # the claim statement for one queue

    def claim(self, owner: str, queues: Sequence[str] | None, exclude: Sequence[str],
              limit: int, lease_seconds: float, per_queue: int | None = None,
              limited_room: int | None = None, late_start: float = LATE_START_LIMIT) -> list[Job]:
        """Atomically take up to ``limit`` due jobs and lease them to ``owner``: they are
        RESERVED until the worker marks them begun (``finish_and_claim``'s ``began``).

        ``queues`` in strict order (all of the first before any of the second), or ``None`` for
        every queue but ``exclude``. With ``per_queue``, a first pass takes at most that many from
        each queue (a fair share) and a second fills what is left in order. Within a queue: higher
        priority first, then the time it became due (its eta, or when it was sent), then enqueue
        order. Returned grouped by queue, in ``queues`` order.
        The attempt is counted here, so a job that kills its worker cannot loop forever.

        Rate and concurrency limits in force (store/flow.py) hold jobs back: they stay queued,
        and jobs behind them are taken instead. At most ``limited_room`` of the jobs taken are
        under a rate limit (a worker asks only for what its idle children can start on time),
        whose children may begin them up to ``late_start`` after the start granted.
        """
        if limit <= 0:
            return []
        request = ClaimRequest(queues, exclude, limit, lease_seconds, per_queue, limited_room, late_start)
        with self.errors(), self.write():
            rows = self._claim_in_transaction(owner, request)
        return Job.all_from_rows(rows)  # made after the commit: not while holding the write lock

    def _claim_in_transaction(self, owner: str, request: ClaimRequest) -> list[tuple]:
        """The claim's rows (JOB_COLUMNS), in claim order; turning them into Jobs is left to
        the caller, once its transaction has committed."""
        queues, limit, per_queue = request.queues, request.limit, request.per_queue
        if limit <= 0:
            return []
        now = time.time()
        lease = (owner, self.lease_clock() + request.lease_seconds, owner, now)
        self.held_until = None  # set again by a claim that rate limits held back
        paused = self.paused_queues()  # read in the claim's transaction: a pause holds from its commit
        if paused:
            request = request._replace(
                queues=None if queues is None else [q for q in queues if q not in paused],
                exclude=(*request.exclude, *paused))
            queues = request.queues
        limits = self._limits_in_force()
        if limits is not None:
            return self._claim_with_limits(limits, lease, request)
        if queues is None:
            return self._claim_any(lease, request.exclude, limit)
        claimed: list[tuple] = []
        for share in (per_queue, None) if per_queue else (None,):
            for queue in queues:
                take = limit - len(claimed) if share is None else min(share, limit - len(claimed))
                if take > 0:
                    claimed += self._claim_rows(self._from_queue_sql(), (*lease, queue, take))
        rank = {queue: i for i, queue in enumerate(queues)}
        claimed.sort(key=lambda row: rank[row[_QUEUE]])  # stable: keeps order within a queue
        return claimed  # in claim order: _claim_rows sorts each statement's rows, grouped by queue above

    def _claim_with_limits(self, limits: Any, lease: tuple, request: ClaimRequest) -> list[tuple]:
        """The claim when some limit is declared: FlowStore's, over the same queues in the same
        order (and with round-robin's fair share of each queue first, as without limits)."""
        queues = request.queues
        if queues is None:
            queues = [q for q in self._list_claimable_queues() if q not in request.exclude]
        room = request.limit if request.limited_room is None else request.limited_room
        if request.per_queue and request.queues is not None:
            rows = self._claim_limited_in_shares(limits, lease, request, list(queues), room)
        else:
            rows = self._claim_limited(limits, lease, list(queues), request.queues is not None,
                                       request.limit, room, request.late_start)
        if request.queues is None:
            return sorted(rows, key=_claim_order)
        rank = {queue: i for i, queue in enumerate(queues)}
        return sorted(rows, key=lambda row: (rank[row[_QUEUE]], *_claim_order(row)))

    def _claim_limited_in_shares(self, limits: Any, lease: tuple, request: ClaimRequest, queues: list[str],
                                 room: int) -> list[tuple]:
        """Round-robin under limits: up to ``per_queue`` from each queue, then the rest in order."""
        rows: list[tuple] = []
        held: list[float] = []
        for share in (request.per_queue, None):
            for queue in queues:
                take = request.limit - len(rows) if share is None else min(share, request.limit - len(rows))
                if take <= 0:
                    continue
                taken = self._claim_limited(limits, lease, [queue], True, take, room, request.late_start)
                room -= sum(1 for row in taken if row[_GRANTED] is not None)  # rate-limited ones
                rows += taken
                held += [self.held_until] if self.held_until is not None else []
        self.held_until = min(held, default=None)
        return rows

    def _from_queue_sql(self) -> str:
        sql = self._from_queue  # made once per store, in the dialect's style: claims run it all the time
        if sql is None:
            sql = self._from_queue = self.sql(
                f"{_CLAIM_SET} WHERE id IN (SELECT id FROM lq_jobs{self.index_hint('lq_jobs_claim_queue')} "
                f"WHERE queue = ? AND {CLAIMABLE} ORDER BY priority DESC, due_at, id LIMIT ?{self.lock_clause}) "
                f"RETURNING {JOB_COLUMNS}")
        return sql

    def _claim_any(self, lease: tuple, exclude: Sequence[str], limit: int) -> list[tuple]:
        """The claim on every queue but ``exclude``, inside the claim's transaction.

        The list of queues holding jobs is kept for QUEUE_LIST_SECONDS, and made again at once
        when the queues on it have nothing to give: a new queue is found as soon as the known ones
        run dry, and within that time otherwise."""
        listed_at, names = self._queue_list
        fresh = time.monotonic() - listed_at < QUEUE_LIST_SECONDS
        if not fresh:
            names = self._list_claimable_queues()
        rows = self._claim_heads([n for n in names if n not in exclude], lease, limit)
        if not rows and fresh:
            rows = self._claim_heads([n for n in self._list_claimable_queues() if n not in exclude], lease, limit)
        return rows

    def _claim_heads(self, queues: list[str], lease: tuple, limit: int) -> list[tuple]:
        """The best ``limit`` jobs across ``queues``: read the first ``limit`` candidates of each
        in claim order, merge them, claim the best by id. One queue is one statement."""
        if len(queues) <= 1:
            return self._claim_rows(self._from_queue_sql(), (*lease, queues[0], limit)) if queues else []
        hint = self.index_hint("lq_jobs_claim_queue")
        candidates: list[tuple] = []
        for queue in queues:
            candidates += self.db.execute_sql(self.sql(
                f"SELECT priority, due_at, id FROM lq_jobs{hint} WHERE queue = ? AND {CLAIMABLE} "
                "ORDER BY priority DESC, due_at, id LIMIT ?"), (queue, limit)).fetchall()
        best = [row[2] for row in heapq.nsmallest(limit, candidates, key=lambda r: (-r[0], r[1], r[2]))]
        if not best:
            return []
        # Only the rows taken are locked (PostgreSQL): one another worker took meanwhile is skipped.
        marks = ", ".join("?" * len(best))
        sql = (f"{_CLAIM_SET} WHERE id IN (SELECT id FROM lq_jobs WHERE id IN ({marks}) AND {CLAIMABLE}"
               f"{self.lock_clause}) RETURNING {JOB_COLUMNS}")
        return self._claim_rows(self.sql(sql), (*lease, *best))

    def _list_claimable_queues(self) -> list[str]:
        """The queues holding claimable jobs, one index seek each (a skip scan); remembered."""
        sql = self.sql(f"SELECT queue FROM lq_jobs{self.index_hint('lq_jobs_claim_queue')} "
                       f"WHERE queue > ? AND {CLAIMABLE} ORDER BY queue LIMIT 1")
        names: list[str] = []
        while (row := self.db.execute_sql(sql, (names[-1] if names else "",)).fetchone()) is not None:
            names.append(row[0])
        self._queue_list = (time.monotonic(), names)
        return names

    def _claim_rows(self, sql: str, params: tuple) -> list[tuple]:
        """Run a claim statement (already in the dialect's style); its rows in claim order."""
        return sorted(self.db.execute_sql(sql, params).fetchall(), key=_claim_order)

    def claim_by_id(self, owner: str, task_id: str, lease_seconds: float) -> Job | None:
        """Atomically take the one waiting job ``task_id``, due or not, and lease it to ``owner``
        (eager runs and ``testing.drain``). None when it is not waiting."""
        sql = (
            f"{_CLAIM_NOW}, wait_until = NULL WHERE task_id = ? AND state IN ('QUEUED', 'RETRY') "
            f"RETURNING {JOB_COLUMNS}"
        )
        now = time.time()
        with self.errors(), self.write():
            rows = self._claim_rows(self.sql(sql), (owner, self.lease_clock() + lease_seconds, owner, now, task_id))
        return Job.all_from_rows(rows)[0] if rows else None

    def promote_due(self) -> int:
        """Make jobs whose eta has come claimable. Idempotent; any worker may call it."""
        sql = "UPDATE lq_jobs SET wait_until = NULL WHERE wait_until IS NOT NULL AND wait_until <= ?"
        with self.errors(), self.write():
            return self.db.execute_sql(self.sql(sql), (time.time(),)).rowcount

    def next_eta(self) -> float | None:
        """The earliest time a waiting job becomes due, or None."""
        with self.errors():
            row = self.db.execute_sql("SELECT MIN(wait_until) FROM lq_jobs WHERE wait_until IS NOT NULL").fetchone()
        return row[0] if row else None


# A claim's row holds Job's fields in their order (JOB_COLUMNS).
_PRIORITY, _DUE_AT, _ID, _QUEUE, _GRANTED = (
    FIELD_NAMES.index(name) for name in ("priority", "due_at", "id", "queue", "granted_at"))


def _claim_order(row: tuple) -> tuple:
    return (-row[_PRIORITY], row[_DUE_AT] or 0.0, row[_ID])
