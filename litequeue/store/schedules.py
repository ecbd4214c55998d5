"""Beat's store operations: schedule entries, their state, and fires recorded with their jobs.

The one promise that matters: a fire (entry, scheduled time) is written in the same transaction
as its job, under a unique key and a compare-and-set on the entry's ``next_fire``, so any number of
beats racing for the same fire enqueue exactly one job. Everything here only moves data; parsing
schedules, computing fire times and encoding arguments happen above the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from .mixin import StoreMixin
from .records import NewJob

# What an entry is (changing any of these is a change of the entry) ...
DEFINITION = ("task", "schedule", "message", "misfire", "misfire_grace", "misfire_limit", "timezone")
# ... and of those, what decides its fire times (changing these starts its timetable afresh).
TIMETABLE = ("schedule", "timezone")

_FIRE = (
    "INSERT INTO lq_fires (entry, fire_time, task_id, fired_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (entry, fire_time) DO NOTHING"
)
_ADVANCE = (
    "UPDATE lq_schedules SET next_fire = ?, last_fire = COALESCE(?, last_fire), runs = runs + ? "
    "WHERE name = ? AND next_fire = ? AND updated_at = ? AND paused = ?"
)


@dataclass(frozen=True)
class ScheduleRow:
    """One schedule entry as the store holds it: its definition (encoded) and its state."""

    name: str
    task: str
    schedule: str  # JSON, see litequeue.schedules
    message: bytes  # JSON of {"args", "kwargs", "options"}
    misfire: str
    misfire_grace: float
    misfire_limit: int
    timezone: str
    origin: str  # "code" or "runtime"
    start_at: float
    next_fire: float | None
    last_fire: float | None = None
    runs: int = 0
    paused: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleRow:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["message"] = bytes(values["message"])
        values["paused"] = bool(values["paused"])
        return cls(**values)

    def same_definition(self, other: ScheduleRow) -> bool:
        return all(getattr(self, k) == getattr(other, k) for k in DEFINITION)

    def same_timetable(self, other: ScheduleRow) -> bool:
        return all(getattr(self, k) == getattr(other, k) for k in TIMETABLE)


@dataclass(frozen=True)
class Fire:
    """A recorded fire: entry, scheduled time, the job it enqueued and when it was sent."""

    entry: str
    fire_time: float
    task_id: str
    fired_at: float


@dataclass(frozen=True)
class SyncReport:
    """What syncing the code's entries changed in the store."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class _Lost(Exception):
    """Raised inside a fire's transaction to roll it back: another beat or a change won."""


class ScheduleStore(StoreMixin):
    """Schedule operations of the store (a mixin of ``Store``)."""

    # -- entries --------------------------------------------------------------------------------

    def schedules(self) -> list[ScheduleRow]:
        """Every entry, by name."""
        sched = self.models.Schedules
        with self.errors():
            return [ScheduleRow.from_row(r) for r in sched.select().order_by(sched.name).dicts()]

    def schedule(self, name: str) -> ScheduleRow | None:
        """The entry called ``name``, or None."""
        sched = self.models.Schedules
        with self.errors():
            row = sched.select().where(sched.name == name).dicts().first()
        return ScheduleRow.from_row(row) if row else None

    def sync_schedules(self, rows: Sequence[ScheduleRow]) -> SyncReport:
        """Make the code's entries (``origin="code"``) exactly ``rows``, in one transaction.

        New names are added; a changed definition replaces the old one, keeping runs, last fire
        and pause, and keeping next fire too unless the timetable changed; code entries missing
        from ``rows`` are removed with their fires. Entries added at runtime are left alone
        unless a code entry takes their name."""
        added, changed = [], []
        now = time.time()
        with self.errors(), self.write():
            existing = {r.name: r for r in self.schedules()}
            for row in rows:
                old = existing.get(row.name)
                if old is None:
                    self._insert_schedule(replace(row, created_at=now, updated_at=now))
                    added.append(row.name)
                elif not old.same_definition(row) or old.origin != row.origin:
                    self._update_schedule(old, row, now)
                    changed.append(row.name)
            keep = {r.name for r in rows}
            removed = [n for n, r in existing.items() if r.origin == "code" and n not in keep]
            for name in removed:
                self._delete_schedule(name)
        return SyncReport(tuple(added), tuple(changed), tuple(removed))

    def put_schedule(self, row: ScheduleRow, replace_existing: bool = False) -> bool:
        """Add an entry; with ``replace_existing``, replace one of the same name (its runs and
        last fire are kept). Returns False when the name exists and may not be replaced."""
        now = time.time()
        with self.errors(), self.write():
            old = self.schedule(row.name)
            if old is None:
                self._insert_schedule(replace(row, created_at=now, updated_at=now))
            elif replace_existing:
                self._update_schedule(old, row, now)
            else:
                return False
        return True

    def set_paused(self, name: str, paused: bool, next_fire: float | None = None) -> bool:
        """Pause or resume an entry (resuming sets its next fire). False when there is no such entry."""
        sched = self.models.Schedules
        with self.errors(), self.write():
            old = self.schedule(name)
            if old is None:
                return False
            values: dict[str, Any] = {"paused": paused, "updated_at": _later(old.updated_at)}
            if not paused:
                values["next_fire"] = next_fire
            return bool(sched.update(**values).where(sched.name == name).execute())

    def remove_schedule(self, name: str) -> bool:
        """Delete an entry and its fires. False when there is no such entry."""
        with self.errors(), self.write():
            return self._delete_schedule(name)

    # -- firing ---------------------------------------------------------------------------------

    def fire(self, entry: ScheduleRow, fire_time: float, next_fire: float | None,
             jobs: Sequence[NewJob]) -> str | None:
        """Record the fire (``entry``, ``fire_time``), enqueue ``jobs`` and move the entry's next
        fire to ``next_fire``, all in one transaction.

        The entry must still be as read (same next fire and definition, not paused) and the fire
        not yet recorded; otherwise another beat or a runtime change came first. A fire that is
        already recorded only moves the next fire on. Returns the id of the job the fire stands
        for: the first of ``jobs``, or, for a unique task whose job is still waiting, that job's
        (nothing new is enqueued, and the fire records it); None when this call did not fire.
        """
        now = time.time()
        sent = jobs[0].task_id
        try:
            with self.errors(), self.write():
                recorded = self.db.execute_sql(self.sql(_FIRE), (entry.name, fire_time, sent, now)).rowcount
                runs = 1 if recorded else 0
                if not self._advance(entry, next_fire, fire_time if recorded else None, runs):
                    raise _Lost
                if not recorded:
                    return None
                joined = self.insert_jobs(jobs, now).get(sent)  # a duplicate unique job is not enqueued again
                if joined is not None:
                    self.db.execute_sql(self.sql("UPDATE lq_fires SET task_id = ? WHERE entry = ? AND fire_time = ?"),
                                        (joined, entry.name, fire_time))
                    return joined
        except _Lost:
            return None
        self.notify()
        return sent

    def skip_fires(self, entry: ScheduleRow, next_fire: float | None) -> bool:
        """Move the entry's next fire on without firing (missed fires skipped). Compare-and-set
        like ``fire``; returns False when the entry changed meanwhile."""
        with self.errors(), self.write():
            return self._advance(entry, next_fire, None, 0)

    def fires(self, entry: str | None = None, limit: int = 1000) -> list[Fire]:
        """The recorded fires (of one entry, or all), oldest first."""
        fires = self.models.Fires
        query = fires.select(fires.entry, fires.fire_time, fires.task_id, fires.fired_at)
        if entry is not None:
            query = query.where(fires.entry == entry)
        with self.errors():
            return [Fire(**r) for r in query.order_by(fires.fire_time, fires.id).limit(limit).dicts()]

    def prune_fires(self, before: float) -> int:
        """Forget fires scheduled before ``before`` (each entry's next fire already guards them)."""
        fires = self.models.Fires
        with self.errors():
            return fires.delete().where(fires.fire_time < before).execute()

    # -- helpers --------------------------------------------------------------------------------

    def _advance(self, entry: ScheduleRow, next_fire: float | None, last_fire: float | None, runs: int) -> bool:
        params = (next_fire, last_fire, runs, entry.name, entry.next_fire, entry.updated_at, False)
        return bool(self.db.execute_sql(self.sql(_ADVANCE), params).rowcount)

    def _insert_schedule(self, row: ScheduleRow) -> None:
        self.models.Schedules.insert(**row.__dict__).execute()

    def _update_schedule(self, old: ScheduleRow, new: ScheduleRow, now: float) -> None:
        values = {k: getattr(new, k) for k in DEFINITION}
        values.update(origin=new.origin, updated_at=_later(old.updated_at))
        if not old.same_timetable(new):
            values.update(start_at=new.start_at, next_fire=new.next_fire)
            self._delete_fires(old.name)
        sched = self.models.Schedules
        sched.update(**values).where(sched.name == old.name).execute()

    def _delete_schedule(self, name: str) -> bool:
        sched = self.models.Schedules
        self._delete_fires(name)
        return bool(sched.delete().where(sched.name == name).execute())

    def _delete_fires(self, name: str) -> None:
        fires = self.models.Fires
        fires.delete().where(fires.entry == name).execute()


def _later(updated_at: float) -> float:
    """A new ``updated_at``: now, and always after the old one (fires compare-and-set on it)."""
    return max(time.time(), updated_at + 1e-3)
