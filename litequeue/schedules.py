"""Schedule entries: checking them (from ``beat_schedule`` or added at runtime) and changing the
schedule a running beat follows.

An entry is Celery's dict: ``{"task": "tasks.add", "schedule": 30.0, "args": (16, 16), "kwargs":
{}, "options": {"queue": "web"}}`` plus litequeue's ``misfire`` ("once", "skip" or "all"),
``misfire_grace`` (seconds) and ``misfire_limit``. A bad entry is refused with a message naming
the entry and the field. ``Schedule(app)`` lists, adds, pauses, resumes and removes entries in
the store; running beats see the change on their next tick.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import serialization
from .calling import build_jobs
from .crontab import crontab
from .errors import ConfigurationError, LiteQueueError
from .routing import check_name
from .store import NewJob
from .store.schedules import Fire, ScheduleRow
from .timetable import Timetable, app_zone, describe, from_json, to_json, zone

if TYPE_CHECKING:
    from .app import LiteQueue

__all__ = ["crontab", "Entry", "Schedule", "entries_from_code", "make_row", "jobs_for"]

MISFIRE_POLICIES = ("once", "skip", "all")
DEFAULTS = {"args": (), "kwargs": None, "options": None, "relative": False, "misfire": "once",
            "misfire_grace": 5.0, "misfire_limit": 10}
ENTRY_KEYS = ("task", "schedule", *DEFAULTS)
_PUBLISH_ONLY = ("retry", "retry_policy")  # beat retries an unwritten fire on its next tick itself


@dataclass(frozen=True)
class Entry:
    """A schedule entry as the store holds it, decoded; times are aware datetimes in its zone."""

    name: str
    task: str
    schedule: Any  # timedelta, crontab or datetime
    args: tuple
    kwargs: dict
    options: dict
    misfire: str
    misfire_grace: float
    misfire_limit: int
    timezone: str
    origin: str  # "code" (beat_schedule) or "runtime" (CLI / API)
    next_fire: dt.datetime | None
    last_fire: dt.datetime | None
    runs: int
    paused: bool

    @property
    def schedule_text(self) -> str:
        """The schedule as short text: "every 30s", "cron 30 7 * * 1", "once at ..."."""
        return describe(to_json(self.schedule, zone(self.timezone)))

    @classmethod
    def from_row(cls, row: ScheduleRow) -> Entry:
        tz = zone(row.timezone)
        message = decode_message(row)

        def when(t: float | None) -> dt.datetime | None:
            return dt.datetime.fromtimestamp(t, tz) if t is not None else None

        return cls(row.name, row.task, from_json(json.loads(row.schedule), tz), tuple(message["args"]),
                   message["kwargs"], message["options"], row.misfire, row.misfire_grace,
                   row.misfire_limit, row.timezone, row.origin, when(row.next_fire),
                   when(row.last_fire), row.runs, row.paused)


def entries_from_code(app: LiteQueue, now: float | None = None) -> list[ScheduleRow]:
    """The app's ``beat_schedule``, checked and ready to sync into the store."""
    schedule = app.conf.beat_schedule
    if not isinstance(schedule, dict):
        raise ConfigurationError(
            f"Setting beat_schedule must be a dict of entry name -> entry dict, not {type(schedule).__name__}."
        )
    now = time.time() if now is None else now
    return [make_row(app, name, spec, "code", app_zone(app.conf), now) for name, spec in schedule.items()]


def make_row(app: LiteQueue, name: Any, spec: Any, origin: str, zone_name: str, now: float) -> ScheduleRow:
    """Check one entry and encode it for the store; ConfigurationError naming entry and field."""
    where = "beat_schedule entry" if origin == "code" else "Schedule entry"
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{where} names must be non-empty strings, not {name!r}.")

    def bad(field: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{where} {name!r}, field {field!r}: {problem}.")

    if not isinstance(spec, dict):
        raise bad("(entry)", f"an entry must be a dict like {{'task': 'tasks.add', 'schedule': 30.0}}, not {spec!r}")
    unknown = sorted(set(spec) - set(ENTRY_KEYS))
    if unknown:
        raise bad(unknown[0], f"unknown field; entries take {', '.join(ENTRY_KEYS)}")
    for required in ("task", "schedule"):
        if required not in spec:
            raise bad(required, "missing; every entry needs a task name and a schedule")
    values = {**DEFAULTS, **spec}
    task = _check(bad, "task", lambda: check_name(values["task"], "the task name"))
    tz = zone(zone_name)
    schedule = _check(bad, "schedule", lambda: to_json(values["schedule"], tz))
    if values["relative"] not in (True, False):
        raise bad("relative", "must be True or False")
    if values["relative"] and "every" in schedule:
        schedule["relative"] = True
    message = _message(app, task, values, bad)
    misfire, grace, limit = _misfire(values, bad)
    start_at = Timetable.start_for(schedule, zone_name, now)
    schedule_json = json.dumps(schedule, sort_keys=True)
    timetable = Timetable(schedule_json, zone_name, start_at)
    next_fire = schedule["at"] if "at" in schedule else timetable.first(max(start_at, now))
    return ScheduleRow(name, task, schedule_json, message, misfire, grace, limit, zone_name, origin,
                       start_at, next_fire)


def _check(bad: Any, field: str, fn: Any) -> Any:
    try:
        return fn()
    except LiteQueueError as exc:
        raise bad(field, exc.message.rstrip(".")) from None


def _message(app: LiteQueue, task: str, values: dict, bad: Any) -> bytes:
    args, kwargs, options = values["args"], values["kwargs"] or {}, values["options"] or {}
    if not isinstance(args, (list, tuple)):
        raise bad("args", f"must be a list or tuple, not {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise bad("kwargs", "must be a dict with string keys")
    if not isinstance(options, dict):
        raise bad("options", f"must be a dict of apply_async options, not {type(options).__name__}")
    if "task_id" in options:
        raise bad("options", "task_id cannot be fixed: every fire sends a job with an id of its own")
    options = {k: v for k, v in options.items() if k not in _PUBLISH_ONLY}
    _check(bad, "options", lambda: build_jobs(app, task, args, kwargs, app.tasks.get(task), dict(options)))
    payload = {"args": list(args), "kwargs": kwargs, "options": options}
    return _check(bad, "args", lambda: serialization.dumps(payload, serialization.JSON))


def _misfire(values: dict, bad: Any) -> tuple[str, float, int]:
    misfire, grace, limit = values["misfire"], values["misfire_grace"], values["misfire_limit"]
    if misfire not in MISFIRE_POLICIES:
        raise bad("misfire", f"must be one of {', '.join(MISFIRE_POLICIES)}, not {misfire!r}")
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not 0 <= grace < float("inf"):
        raise bad("misfire_grace", f"must be a number of seconds >= 0, not {grace!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise bad("misfire_limit", f"must be an integer >= 1, not {limit!r}")
    return misfire, float(grace), limit


def decode_message(row: ScheduleRow) -> dict:
    """The entry's stored args, kwargs and options."""
    return serialization.loads(row.message, serialization.JSON, frozenset({serialization.JSON}))


def jobs_for(app: LiteQueue, row: ScheduleRow) -> list[NewJob]:
    """The jobs one fire of ``row`` sends, built exactly as ``apply_async`` builds them."""
    message = decode_message(row)
    return build_jobs(app, row.task, message["args"], message["kwargs"], app.tasks.get(row.task),
                      dict(message["options"]))


class Schedule:
    """The schedule in an app's store, changed at runtime (``litequeue schedule`` does this).

    Running beats see every change on their next tick; no restart needed.
    """

    def __init__(self, app: LiteQueue) -> None:
        self.app = app

    def entries(self) -> list[Entry]:
        """Every entry, by name."""
        return [Entry.from_row(r) for r in self.app.store.schedules()]

    def get(self, name: str) -> Entry:
        """The entry called ``name``; ConfigurationError if there is none."""
        return Entry.from_row(self._row(name))

    def add(self, name: str, task: str, schedule: Any, *, replace: bool = False, timezone: str | None = None,
            **fields: Any) -> Entry:
        """Add an entry (fields as in ``beat_schedule``: args, kwargs, options, relative, misfire,
        misfire_grace, misfire_limit). With ``replace``, an entry of that name added at runtime
        is replaced. ``timezone`` defaults to the app's."""
        zone_name = timezone or app_zone(self.app.conf)
        zone(zone_name, "timezone")
        spec = {"task": task, "schedule": schedule, **fields}
        row = make_row(self.app, name, spec, "runtime", zone_name, time.time())
        old = self.app.store.schedule(name)
        if old is not None and old.origin == "code":
            raise ConfigurationError(f"Schedule entry {name!r} is defined in code (beat_schedule); change it there.")
        if not self.app.store.put_schedule(row, replace_existing=replace):
            raise ConfigurationError(f"Schedule entry {name!r} exists already; remove it first, or "
                                     "replace it (replace=True, --replace).")
        return self.get(name)

    def pause(self, name: str) -> Entry:
        """Stop firing the entry until it is resumed."""
        if not self.app.store.set_paused(self._row(name).name, True):
            raise _missing(name)
        return self.get(name)

    def resume(self, name: str) -> Entry:
        """Fire the entry again from now on (fires missed while paused are not caught up)."""
        row = self._row(name)
        timetable = Timetable(row.schedule, row.timezone, row.start_at)
        next_fire = timetable.first(max(row.start_at, time.time()))
        if next_fire is not None and row.last_fire is not None and next_fire <= row.last_fire:
            next_fire = timetable.after(row.last_fire)  # this clock is behind the beat that fired last
        if not self.app.store.set_paused(name, False, next_fire):
            raise _missing(name)
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete an entry added at runtime (entries from code are removed from beat_schedule)."""
        row = self._row(name)
        if row.origin == "code":
            raise ConfigurationError(
                f"Schedule entry {name!r} is defined in code (beat_schedule); delete it there (beat "
                "removes it when it next starts), or pause it now."
            )
        if not self.app.store.remove_schedule(name):
            raise _missing(name)

    def fires(self, name: str | None = None, limit: int = 1000) -> list[Fire]:
        """Recorded fires (kept for a day), oldest first."""
        return self.app.store.fires(name, limit)

    def _row(self, name: str) -> ScheduleRow:
        row = self.app.store.schedule(name)
        if row is None:
            raise _missing(name)
        return row


def _missing(name: str) -> ConfigurationError:
    return ConfigurationError(f"No schedule entry named {name!r}; `litequeue schedule DB` lists them.")

