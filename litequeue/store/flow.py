"""Flow control inside the store: unique jobs at enqueue; rate and concurrency limits at claim
(a mixin of ``Store``, made of one module per concept).

Every check happens inside the transaction that writes: a unique job is inserted with
``ON CONFLICT DO NOTHING`` against a unique index (store/unique_keys.py), and a claim that finds
limits in force (store/limits.py) counts held jobs (store/concurrency_slots.py) and moves rate
buckets (store/rate_buckets.py) in its own write transaction, on PostgreSQL after locking the
limits' rows, so claims on other connections wait. No race can exceed a limit.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence

from .. import states
from .concurrency_slots import ConcurrencySlots
from .held_back import HeldBack, HeldBackStore
from .limits import LimitRow, Limits, LimitsStore
from .models import CLAIMABLE
from .rate_buckets import RATE_HORIZON, RATE_LEAD, RateBuckets
from .records import FIELD_NAMES, Outcome
from .unique_keys import UniqueKeysStore

__all__ = ["FlowStore", "HeldBack", "LimitRow", "Limits"]

RATE_AHEAD = RATE_HORIZON + RATE_LEAD  # a granted start lies no further than this past its claim
_ID, _STARTED_AT, _GRANTED_AT = (FIELD_NAMES.index(name) for name in ("id", "started_at", "granted_at"))


class FlowStore(UniqueKeysStore, LimitsStore, HeldBackStore):
    """The limited claim; with unique keys, declared limits and what they hold back."""

    held_until: float | None = None  # after a claim: when a rate bucket that held jobs back opens

    def _claim_limited(self, limits: Limits, lease: tuple, queues: list[str], ranked: bool,
                       limit: int, limited_room: int, late_start: float) -> list[tuple]:
        """The claim when limits are in force, inside the claim's transaction: walk the due jobs
        of ``queues`` in claim order (``ranked``: all of one queue before the next), skipping
        those a limit holds back (so they block nothing behind them), and take up to ``limit``,
        of which at most ``limited_room`` under a rate limit, whose children may begin them up to
        ``late_start`` after the start granted. Returns the claimed rows."""
        from .admin import JOB_COLUMNS
        from .claims import _CLAIM_SET

        gate = _Gate(self, limits, lease[3], limited_room, late_start)
        chosen: dict[int, float | None] = {}  # job id -> the start its rate buckets granted (None: no rate limit)
        # Each round either takes a candidate or learns why one is held back (and excludes its
        # kind from the next round's query), so rounds are few; the cap bounds a pathological mix.
        for _ in range(64):
            rows = self._candidates(queues, ranked, gate, list(chosen), limit - len(chosen))
            for _, _, _, job_id, task, queue, key in rows:
                admitted, slot = gate.admit(task, queue, key)
                if admitted:
                    chosen[job_id] = slot
                    if len(chosen) == limit:
                        break
            if not rows or len(chosen) == limit:
                break
        gate.buckets.write()
        self.held_until = gate.buckets.held_until()
        if not chosen:
            return []
        marks = ", ".join("?" * len(chosen))
        sql = (f"{_CLAIM_SET} WHERE id IN (SELECT id FROM lq_jobs WHERE id IN ({marks}) AND {CLAIMABLE}"
               f"{self.lock_clause}) RETURNING {JOB_COLUMNS}")
        rows = self.db.execute_sql(self.sql(sql), (*lease, *chosen)).fetchall()
        granted = {job_id: slot for job_id, slot in chosen.items() if slot is not None}
        if not granted:
            return rows
        # A job under a rate limit carries the start its buckets granted (a moment ahead, within
        # RATE_HORIZON) as its granted_at, kept after it ran, and as its started_at until it
        # begins: the child that runs it waits until then.
        self.db.cursor().executemany(self.sql("UPDATE lq_jobs SET started_at = ?, granted_at = ? WHERE id = ?"),
                                     [(slot, slot, job_id) for job_id, slot in granted.items()])
        return [_with_grant(row, granted[row[_ID]]) if row[_ID] in granted else row for row in rows]

    def _refund_missed_starts(self, applied: list[Outcome]) -> None:
        """Inside the caller's transaction: give back the starts granted to attempts handed back
        unrun (``Outcome.missed_start``) to the buckets whose last grant each was, so the job
        is granted another start at once rather than an interval later."""
        missed = [o for o in applied if o.missed_start is not None and o.state == states.QUEUED]
        if not missed:
            return
        buckets = RateBuckets(self, time.time())  # on PostgreSQL: the rows locked in name order, as claims do
        for o in missed:
            row = self.db.execute_sql(self.sql("SELECT task, queue FROM lq_jobs WHERE id = ?"), (o.job_id,)).fetchone()
            if row is not None and o.missed_start is not None:
                buckets.refund(["task:" + row[0], "queue:" + row[1]], *o.missed_start)
        buckets.write()

    def _refund_unbegun_starts(self, grants: Sequence[tuple[str, str, float | None]]) -> None:
        """Inside the caller's transaction: give back the starts rate limits granted to jobs put
        back without having begun, each (task, queue, granted_at), to the buckets whose last grant
        each was."""
        # The latest first: each refund opens the way for the one before.
        granted = sorted(((task, queue, slot) for task, queue, slot in grants if slot is not None),
                         key=lambda grant: -grant[2])
        if not granted:
            return
        buckets = RateBuckets(self, time.time())
        changed = dict(self.db.execute_sql("SELECT name, updated_at FROM lq_limits").fetchall())
        for task, queue, slot in granted:
            # A bucket whose rate was set since the claim that granted ``slot`` keeps it: its
            # spacing then is not the one the refund's rule reads.
            names = [n for n in ("task:" + task, "queue:" + queue) if changed.get(n, 0.0) < slot - RATE_AHEAD]
            buckets.refund(names, slot)
        buckets.write()

    def _candidates(self, queues: list[str], ranked: bool, gate: _Gate, chosen: list[int], need: int) -> list:
        """Due jobs not held back by what ``gate`` knows, in claim order: ``need`` per queue."""
        hint = self.index_hint("lq_jobs_claim_queue")
        where, params = gate.exclusions()
        if chosen:
            where += f" AND id NOT IN ({', '.join('?' * len(chosen))})"
            params = [*params, *chosen]
        found: list[tuple] = []
        for rank, queue in enumerate(queues):
            if not gate.queue_open(queue):
                continue
            sql = (f"SELECT priority, due_at, id, task, queue, flow_key FROM lq_jobs{hint} WHERE queue = ? "
                   f"AND {CLAIMABLE}{where} ORDER BY priority DESC, due_at, id LIMIT ?")
            for r in self.db.execute_sql(self.sql(sql), (queue, *params, need)).fetchall():
                found.append((rank if ranked else 0, -r[0], r[1], r[2], r[3], r[4], r[5]))
        return heapq.nsmallest(len(found), found)


class _Gate:
    """One limited claim's view of the limits: its rate buckets, its concurrency slots, and how
    many rate-limited jobs it may still take. ``admit`` decides job by job; ``exclusions`` says in
    SQL which jobs cannot be admitted, so candidates held back are not read again."""

    def __init__(self, store: FlowStore, limits: Limits, now: float, limited_room: int, late_start: float) -> None:
        self.limits, self.room = limits, limited_room
        # On PostgreSQL the limits' rows are locked (by the buckets' read): limited claims on
        # other connections wait for this one to commit, so they count what it took.
        self.buckets = RateBuckets(store, now, late_start)
        self.slots = ConcurrencySlots(store, limits.task_concurrency, limits.queue_concurrency)

    def queue_open(self, queue: str) -> bool:
        if self.slots.queue_full(queue):
            return False
        if queue in self.limits.queue_rate and not self.buckets.is_open("queue:" + queue):
            return False
        return not (self.room <= 0 and queue in self.limits.queue_rate)

    def exclusions(self) -> tuple[str, list]:
        where, params = "", []
        closed_tasks = [t for t in self.limits.task_rate if not self.buckets.is_open("task:" + t)]
        if self.room <= 0:
            closed_tasks = list(self.limits.task_rate)
        if closed_tasks:
            where += f" AND task NOT IN ({', '.join('?' * len(closed_tasks))})"
            params += closed_tasks
        full = self.slots.full_keys()
        if full:
            where += f" AND (flow_key IS NULL OR flow_key NOT IN ({', '.join('?' * len(full))}))"
            params += full
        return where, params

    def admit(self, task: str, queue: str, key: str | None) -> tuple[bool, float | None]:
        """Whether this claim may take the job, counting it against its limits if so, and the
        start its rate buckets grant it (a moment ahead; None when it is under no rate limit)."""
        if not self.limits.limits_job(task, queue, key):
            return True, None
        rated = task in self.limits.task_rate or queue in self.limits.queue_rate
        if (rated and self.room <= 0) or not self.queue_open(queue):
            return False, None
        if task in self.limits.task_rate and not self.buckets.is_open("task:" + task):
            return False, None
        if key is not None and self.slots.key_full(key):
            return False, None
        self.room -= rated
        self.slots.take(queue, key)
        buckets = [name for name in ("task:" + task, "queue:" + queue) if name in self.buckets]
        return True, (self.buckets.grant(buckets) if buckets else None)


def _with_grant(row: tuple, slot: float) -> tuple:
    row = (*row[:_STARTED_AT], slot, *row[_STARTED_AT + 1:])
    return (*row[:_GRANTED_AT], slot, *row[_GRANTED_AT + 1:])
