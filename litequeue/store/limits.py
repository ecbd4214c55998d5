"""Declaring and reading limits: the rows of ``lq_limits`` (a mixin of ``Store``).

A row per limited task ("task:<name>") or queue ("queue:<name>") holds the rate declared in code,
the rate set at run time (which wins), the interval between starts of the rate in force and its
bucket's next opening (store/rate_buckets.py), and a concurrency limit (store/concurrency_slots.py).

A store with no limits pays one primary-key read per claim (``lq_meta``'s ``limits`` version):
until a limit is declared there is no such row and the claim is the plain one. Every change of a
limit writes a new version, so claims re-read the limits only when they changed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from .mixin import StoreMixin
from .records import NewJob

_BUMP = ("INSERT INTO lq_meta (key, value) VALUES ('limits', ?) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
_UPSERT_LIMIT = (
    "INSERT INTO lq_limits (name, rate, rate_override, spacing, next_at, concurrency, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET rate = excluded.rate, "
    "rate_override = excluded.rate_override, spacing = excluded.spacing, next_at = excluded.next_at, "
    "concurrency = excluded.concurrency, updated_at = excluded.updated_at"
)
_UPSERT_CONCURRENCY = (
    "INSERT INTO lq_limits (name, concurrency, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
    "DO UPDATE SET concurrency = excluded.concurrency, updated_at = excluded.updated_at"
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


class LimitsStore(StoreMixin):
    """declare_limits, set_rate_override, limits; the limits in force for a claim."""

    _limits_cache: tuple[str | None, Limits | None] = (None, None)
    _declared: dict[str, int | None]  # concurrency declared by this process, per task (enqueue)

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

    def _declare_concurrency(self, jobs: Sequence[NewJob], now: float) -> None:
        """Make sure lq_limits knows the concurrency of every keyed task in ``jobs`` before they
        are stored (once per process and task): a claim never sees a keyed job without its limit."""
        declared = self.__dict__.setdefault("_declared", {})
        for job in jobs:
            flow = job.flow
            if flow is None or flow.flow_key is None or declared.get(job.task) == flow.concurrency:
                continue
            name = "task:" + job.task
            self.db.execute_sql(self.sql(_UPSERT_CONCURRENCY), (name, flow.concurrency, now))
            self._bump()
            declared[job.task] = flow.concurrency
