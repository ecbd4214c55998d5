"""Flow control inside the store: unique jobs at enqueue; rate and concurrency limits at claim
(a mixin of ``Store``).

Every check happens inside the transaction that writes: a unique job is inserted with
``ON CONFLICT DO NOTHING`` against a unique index, and a claim that finds limits in force counts
running jobs and moves rate limiters in its own write transaction (on PostgreSQL after locking
the limits' rows, so claims on other connections wait). No race can exceed a limit.

A store with no limits pays one primary-key read per claim (``lq_meta``'s ``limits`` version):
until a limit is declared there is no such row and the claim is today's one statement.

Rate limits are spacings: a limiter lets one job start, then none until ``interval`` seconds
later (a token bucket of capacity one), so the starts in any window of one period never exceed
the limit. Concurrency is counted from held (RESERVED or STARTED) rows, so a job whose worker died holds
its slot until its lease is rescued, and no longer.
"""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from .mixin import StoreMixin
from .models import CLAIMABLE
from .records import FIELD_NAMES, NewJob

RATE_HORIZON = 0.05  # seconds ahead a claim may grant a rate limiter's next start (the child waits for it)
# A rate-limited start is granted this far ahead of its claim (or one spacing, if shorter), so that
# the job reaches its child before its slot and starts on time (a start delayed by a busy machine
# could fall into the next one's window).
RATE_LEAD = 0.02
_ID, _STARTED_AT = FIELD_NAMES.index("id"), FIELD_NAMES.index("started_at")
_CLEAR_UNIQUE = (  # a key stops counting once its window has passed or its job failed or was revoked
    "UPDATE lq_jobs SET unique_key = NULL WHERE unique_key = ? "
    "AND (unique_until <= ? OR state IN ('FAILURE', 'REVOKED'))"
)
_UNIQUE_CONFLICT = " ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING"
_BUMP = ("INSERT INTO lq_meta (key, value) VALUES ('limits', ?) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
_UPSERT_LIMIT = (
    "INSERT INTO lq_limits (name, rate, rate_override, spacing, next_at, concurrency, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET rate = excluded.rate, "
    "rate_override = excluded.rate_override, spacing = excluded.spacing, next_at = excluded.next_at, "
    "concurrency = excluded.concurrency, updated_at = excluded.updated_at"
)


class Limits(NamedTuple):
    """The limits in force, as a claim reads them (cached per version)."""

    task_rate: frozenset[str]  # tasks with a rate limit
    queue_rate: frozenset[str]
    task_concurrency: dict[str, int]  # per concurrency key of the task
    queue_concurrency: dict[str, int]

    def limits_job(self, task: str, queue: str, key: str | None) -> bool:
        return key is not None or task in self.task_rate or queue in self.queue_rate or queue in self.queue_concurrency


class LimitRow(NamedTuple):
    """One row of lq_limits (``Store.limits()``)."""

    name: str  # "task:<name>" or "queue:<name>"
    rate: str | None  # declared in code
    rate_override: str | None  # set at run time; wins over ``rate``
    interval: float | None  # seconds between starts of the rate in force
    next_at: float | None  # the rate limiter lets the next job start at this time
    concurrency: int | None


class HeldBack(NamedTuple):
    """Jobs that are due but held back by a limit (``Store.held_back()``)."""

    limit: str  # "task:<name>", "queue:<name>", or the concurrency key "<task>\x1f<value>"
    kind: str  # "rate" or "concurrency"
    waiting: int  # due jobs held back
    until: float | None  # rate: when the next may start
    running: int | None  # concurrency: running now
    concurrency: int | None


class FlowStore(StoreMixin):
    """enqueue_flow, declare_limits, set_rate_override, limits, held_back, and the limited claim."""

    _limits_cache: tuple[str | None, Limits | None] = (None, None)
    _declared: dict[str, int | None]  # concurrency declared by this process, per task (enqueue)
    held_until: float | None = None  # after a claim: when a rate limiter that held jobs back opens

    # -- unique jobs -----------------------------------------------------------------------------

    def enqueue_flow(self, jobs: Sequence[NewJob], now: float) -> dict[str, str]:
        """``enqueue`` for a batch holding jobs with flow keys, in one durable write transaction.

        A unique job whose key is held by a counting job (waiting, scheduled, running or
        succeeded, within its window) is not inserted: the result maps its task_id to that job's.
        Racing producers insert one job: the unique index decides, inside the transaction."""
        with self.errors():
            with self.write() as txn:
                duplicates = self.insert_jobs(jobs, now)
            committed = self._committed(txn)
        if len(duplicates) < len(jobs):
            self._notify_after(committed)
        return duplicates

    def insert_jobs(self, jobs: Sequence[NewJob], now: float) -> dict[str, str]:
        """Insert ``jobs`` in order inside the caller's write transaction; the duplicates, as
        ``enqueue_flow`` returns them."""
        from .base import _INSERT, _insert_row

        self._declare_concurrency(jobs, now)
        insert = self.sql(_INSERT)
        duplicates: dict[str, str] = {}
        plain: list[tuple] = []
        for job in jobs:
            row = _insert_row(job, now)
            key = job.flow.unique_key if job.flow is not None else None
            if key is None:
                plain.append(row)
                continue
            if plain:
                self.db.cursor().executemany(insert, plain)
                plain = []
            existing = self._insert_unique(row, key, now)
            if existing is not None:
                duplicates[job.task_id] = existing
        if plain:
            self.db.cursor().executemany(insert, plain)
        return duplicates

    def _insert_unique(self, row: tuple, key: str, now: float) -> str | None:
        """Insert a unique job's row; None, or the task_id of the job that holds its key."""
        from .base import _INSERT

        self.db.execute_sql(self.sql(_CLEAR_UNIQUE), (key, now))
        if self.db.execute_sql(self.sql(_INSERT + _UNIQUE_CONFLICT), row).rowcount == 1:
            return None
        found = self.db.execute_sql(self.sql("SELECT task_id FROM lq_jobs WHERE unique_key = ?"), (key,)).fetchone()
        return found[0] if found else None

    def _declare_concurrency(self, jobs: Sequence[NewJob], now: float) -> None:
        """Make sure lq_limits knows the concurrency of every keyed task in ``jobs`` before they
        are stored (once per process and task): a claim never sees a keyed job without its limit."""
        declared = self.__dict__.setdefault("_declared", {})
        for job in jobs:
            flow = job.flow
            if flow is None or flow.flow_key is None or declared.get(job.task) == flow.concurrency:
                continue
            name = "task:" + job.task
            self.db.execute_sql(self.sql(
                "INSERT INTO lq_limits (name, concurrency, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET concurrency = excluded.concurrency, updated_at = excluded.updated_at"),
                (name, flow.concurrency, now))
            self._bump()
            declared[job.task] = flow.concurrency

    # -- declaring limits ----------------------------------------------------------------------

    def declare_limits(self, declared: dict[str, tuple[str | None, float | None, int | None]],
                       known: Sequence[str]) -> None:
        """Write the limits code declares: ``declared`` maps "task:<name>" / "queue:<name>" to
        (rate text, interval, concurrency). Names in ``known`` without a declaration lose the
        limits code gave them (a limit removed from the code stops applying); a rate override
        set at run time is kept. One transaction; every worker sees it at its next claim."""
        now = time.time()
        with self.errors(), self.write():
            current = {row.name: row for row in self._limit_rows()}
            changed = False
            for name in sorted(set(declared) | (set(known) & set(current))):
                rate, interval, concurrency = declared.get(name, (None, None, None))
                row = current.get(name)
                override = row.rate_override if row is not None else None
                if row is not None and override is not None:
                    interval = row.interval  # the run-time rate stays in force
                if row is not None and (row.rate, row.interval, row.concurrency) == (rate, interval, concurrency):
                    continue
                changed = True
                self._write_limit(name, row, rate, override, interval, concurrency, now)
            # (A store copied by migrate-store has the limits but not their version.)
            if changed or (current and self._version() is None):
                self._bump()

    def set_rate_override(self, name: str, rate: str | None, interval: float | None) -> None:
        """Set the run-time rate of "task:<name>" / "queue:<name>" (``interval`` seconds between
        starts), which wins over the rate code declares; or with ``rate`` None, go back to the
        declared rate (``interval``: its interval, or None). Every worker obeys at its next claim."""
        now = time.time()
        with self.errors(), self.write():
            row = next((r for r in self._limit_rows() if r.name == name), None)
            self._write_limit(name, row, row.rate if row else None, rate, interval,
                              row.concurrency if row else None, now)
            self._bump()

    def _write_limit(self, name: str, row: LimitRow | None, rate: str | None, override: str | None,
                     interval: float | None, concurrency: int | None, now: float) -> None:
        """Upsert (or delete, when nothing is left) one limit. A new interval moves the limiter's
        next opening to the last start plus the new interval, so a faster rate applies at once."""
        if rate is None and override is None and concurrency is None:
            self.db.execute_sql(self.sql("DELETE FROM lq_limits WHERE name = ?"), (name,))
            return
        next_at = row.next_at if row is not None else None
        if next_at is not None and row is not None and row.interval and interval:
            next_at = next_at - row.interval + interval
        elif not interval:
            next_at = None
        self.db.execute_sql(self.sql(_UPSERT_LIMIT), (name, rate, override, interval, next_at, concurrency, now))

    def limits(self) -> list[LimitRow]:
        """Every limit stored (declared in code, or set at run time)."""
        with self.errors():
            return self._limit_rows()

    def _limit_rows(self) -> list[LimitRow]:
        sql = "SELECT name, rate, rate_override, spacing, next_at, concurrency FROM lq_limits ORDER BY name"
        return [LimitRow(*row) for row in self.db.execute_sql(sql).fetchall()]

    def _bump(self) -> None:
        self.db.execute_sql(self.sql(_BUMP), (uuid.uuid4().hex,))

    def _version(self) -> str | None:
        row = self.db.execute_sql("SELECT value FROM lq_meta WHERE key = 'limits'").fetchone()
        return row[0] if row else None

    def _limits_in_force(self) -> Limits | None:
        """The limits a claim must obey (None: there are none), re-read when declared anew."""
        current = self._version()
        if current is None:
            return None
        version, cached = self._limits_cache
        if version == current:
            return cached
        task_rate: set[str] = set()
        queue_rate: set[str] = set()
        task_conc: dict[str, int] = {}
        queue_conc: dict[str, int] = {}
        for r in self._limit_rows():
            kind, _, target = r.name.partition(":")
            if r.interval:
                (task_rate if kind == "task" else queue_rate).add(target)
            if r.concurrency:
                (task_conc if kind == "task" else queue_conc)[target] = r.concurrency
        limits = Limits(frozenset(task_rate), frozenset(queue_rate), task_conc, queue_conc) \
            if task_rate or queue_rate or task_conc or queue_conc else None
        self._limits_cache = (current, limits)
        return limits

    # -- the limited claim -------------------------------------------------------------------------

    def _claim_limited(self, limits: Limits, lease: tuple, queues: list[str], ranked: bool,
                       limit: int, limited_room: int) -> list[tuple]:
        """The claim when limits are in force, inside the claim's transaction: walk the due jobs
        of ``queues`` in claim order (``ranked``: all of one queue before the next), skipping
        those a limit holds back (so they block nothing behind them), and take up to ``limit``,
        of which at most ``limited_room`` under a rate limit. Returns the claimed rows."""
        from .admin import JOB_COLUMNS
        from .claims import _CLAIM_SET

        gate = _Gate(self, limits, lease[3], limited_room)
        now = gate.now
        chosen: dict[int, float] = {}  # job id -> when it may start (its rate limiters' slot)
        # Each round either takes a candidate or learns why one is held back (and excludes its
        # kind from the next round's query), so rounds are few; the cap bounds a pathological mix.
        for _ in range(64):
            rows = self._candidates(queues, ranked, gate, list(chosen), limit - len(chosen))
            for _, _, _, job_id, task, queue, key in rows:
                slot = gate.admit(task, queue, key)
                if slot is not None:
                    chosen[job_id] = slot
                    if len(chosen) == limit:
                        break
            if not rows or len(chosen) == limit:
                break
        gate.write_rates()
        self.held_until = gate.held_until()
        if not chosen:
            return []
        marks = ", ".join("?" * len(chosen))
        sql = (f"{_CLAIM_SET} WHERE id IN (SELECT id FROM lq_jobs WHERE id IN ({marks}) AND {CLAIMABLE}"
               f"{self.lock_clause}) RETURNING {JOB_COLUMNS}")
        rows = self.db.execute_sql(self.sql(sql), (*lease, *chosen)).fetchall()
        later = {job_id: slot for job_id, slot in chosen.items() if slot > now}
        if not later:
            return rows
        # A job granted a start a moment ahead (within RATE_HORIZON) carries it as its started_at:
        # the child that runs it waits until then.
        self.db.cursor().executemany(self.sql("UPDATE lq_jobs SET started_at = ? WHERE id = ?"),
                                     [(slot, job_id) for job_id, slot in later.items()])
        return [_with_start(row, later[row[_ID]]) if row[_ID] in later else row for row in rows]

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

    # -- what is held back ---------------------------------------------------------------------------

    def held_back(self) -> list[HeldBack]:
        """Due jobs that a limit holds back now, per limit: rate limiters not yet open, and
        concurrency keys and queues whose slots are all taken."""
        now = time.time()
        out: list[HeldBack] = []
        with self.errors():
            rows = self._limit_rows() if self._limits_in_force() is not None else []
            for r in rows:
                kind, _, target = r.name.partition(":")
                column = "task" if kind == "task" else "queue"
                if r.interval and r.next_at and r.next_at > now:
                    waiting = self._count(f"{column} = ? AND {CLAIMABLE}", (target,))
                    if waiting:
                        out.append(HeldBack(r.name, "rate", waiting, r.next_at, None, None))
                if r.concurrency and kind == "queue":
                    running = self._count("state IN ('RESERVED', 'STARTED') AND queue = ?", (target,))
                    waiting = self._count(f"queue = ? AND {CLAIMABLE}", (target,)) if running >= r.concurrency else 0
                    if waiting:
                        out.append(HeldBack(r.name, "concurrency", waiting, None, running, r.concurrency))
                if r.concurrency and kind == "task":
                    out += self._held_keys(target, r.concurrency)
        return out

    def _held_keys(self, task: str, concurrency: int) -> list[HeldBack]:
        sql = ("SELECT flow_key, COUNT(*) FROM lq_jobs WHERE state IN ('RESERVED', 'STARTED') AND flow_key IS NOT NULL "
               "GROUP BY flow_key")
        full = [(k, n) for k, n in self.db.execute_sql(sql).fetchall()
                if n >= concurrency and (k == task or k.startswith(task + "\x1f"))]
        out = []
        for key, running in full:
            waiting = self._count(f"flow_key = ? AND {CLAIMABLE}", (key,))
            if waiting:
                out.append(HeldBack(key, "concurrency", waiting, None, running, concurrency))
        return out

    def _count(self, where: str, params: tuple) -> int:
        return self.db.execute_sql(self.sql(f"SELECT COUNT(*) FROM lq_jobs WHERE {where}"), params).fetchone()[0]


class _Gate:
    """One limited claim's view of the limits: what runs, which rate limiters are open, and what
    this claim has taken so far. ``admit`` decides job by job; ``exclusions`` says in SQL which
    jobs cannot be admitted, so candidates held back are not read again."""

    def __init__(self, store: FlowStore, limits: Limits, now: float, limited_room: int) -> None:
        self.store, self.limits, self.now, self.room = store, limits, now, limited_room
        db, sql = store.db, store.sql
        # On PostgreSQL the limits' rows are locked: limited claims on other connections wait for
        # this one to commit, so they count what it took.
        rows = db.execute_sql(f"SELECT name, spacing, next_at FROM lq_limits ORDER BY name{store.row_lock}").fetchall()
        self.now = max(now, time.time())  # read once the rows are held: no claim can start in between
        self.next_at = {name: (interval, next_at) for name, interval, next_at in rows if interval}
        self.moved: set[str] = set()
        self.running_keys: dict[str, int] = dict(db.execute_sql(
            "SELECT flow_key, COUNT(*) FROM lq_jobs WHERE state IN ('RESERVED', 'STARTED') AND flow_key IS NOT NULL "
            "GROUP BY flow_key").fetchall()) if limits.task_concurrency else {}
        self.queue_room: dict[str, int] = {}
        for queue, concurrency in limits.queue_concurrency.items():
            held = "SELECT COUNT(*) FROM lq_jobs WHERE state IN ('RESERVED', 'STARTED') AND queue = ?"
            running = db.execute_sql(sql(held), (queue,)).fetchone()[0]
            self.queue_room[queue] = concurrency - running
        self.blocked: set[str] = set()  # limiter names that hold jobs back

    def _open(self, name: str) -> bool:
        """Whether the rate limiter ``name`` lets a job start within RATE_HORIZON."""
        spec = self.next_at.get(name)
        return spec is None or spec[1] is None or spec[1] <= self.now + RATE_HORIZON

    def queue_open(self, queue: str) -> bool:
        if queue in self.limits.queue_concurrency and self.queue_room.get(queue, 0) <= 0:
            return False
        if queue in self.limits.queue_rate and not self._open("queue:" + queue):
            self.blocked.add("queue:" + queue)
            return False
        return not (self.room <= 0 and queue in self.limits.queue_rate)

    def exclusions(self) -> tuple[str, list]:
        where, params = "", []
        closed_tasks = [t for t in self.limits.task_rate if not self._open("task:" + t)]
        self.blocked.update("task:" + t for t in closed_tasks)
        if self.room <= 0:
            closed_tasks = list(self.limits.task_rate)
        if closed_tasks:
            where += f" AND task NOT IN ({', '.join('?' * len(closed_tasks))})"
            params += closed_tasks
        full = [k for k, n in self.running_keys.items() if n >= self._key_limit(k)]
        if full:
            where += f" AND (flow_key IS NULL OR flow_key NOT IN ({', '.join('?' * len(full))}))"
            params += full
        return where, params

    def _key_limit(self, key: str) -> int:
        task = key.split("\x1f", 1)[0]
        return self.limits.task_concurrency.get(task, 1 << 30)

    def admit(self, task: str, queue: str, key: str | None) -> float | None:
        """When the job may start if this claim may take it (now, or a rate limiter's slot a
        moment ahead), counting it against its limits; None when a limit holds it back."""
        if not self.limits.limits_job(task, queue, key):
            return self.now
        rated = task in self.limits.task_rate or queue in self.limits.queue_rate
        if (rated and self.room <= 0) or not self.queue_open(queue):
            return None
        if task in self.limits.task_rate and not self._open("task:" + task):
            self.blocked.add("task:" + task)
            return None
        if key is not None and self.running_keys.get(key, 0) >= self._key_limit(key):
            return None
        self.room -= rated
        if key is not None:
            self.running_keys[key] = self.running_keys.get(key, 0) + 1
        if queue in self.queue_room:
            self.queue_room[queue] -= 1
        limiters = [name for name in ("task:" + task, "queue:" + queue) if name in self.next_at]
        if not limiters:
            return self.now
        lead = min(RATE_LEAD, *(self.next_at[name][0] for name in limiters))
        slot = max([self.now + lead, *(self.next_at[name][1] or 0.0 for name in limiters)])
        for name in limiters:  # the next start is one spacing after this one
            self.next_at[name] = (self.next_at[name][0], slot + self.next_at[name][0])
            self.moved.add(name)
        return slot

    def write_rates(self) -> None:
        if self.moved:
            self.store.db.cursor().executemany(
                self.store.sql("UPDATE lq_limits SET next_at = ? WHERE name = ?"),
                [(self.next_at[name][1], name) for name in sorted(self.moved)])

    def held_until(self) -> float | None:
        """When the first rate limiter that held jobs back (or just moved) lets another start."""
        times = [self.next_at[name][1] for name in self.blocked | self.moved if self.next_at[name][1] is not None]
        return min(times) - RATE_HORIZON if times else None


def _with_start(row: tuple, started_at: float) -> tuple:
    return (*row[:_STARTED_AT], started_at, *row[_STARTED_AT + 1:])
