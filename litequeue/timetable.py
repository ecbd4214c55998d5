"""When a schedule entry fires: its schedule kind and zone turned into APScheduler triggers.

Three kinds, stored as JSON: ``{"every": seconds, "relative": bool}`` (IntervalTrigger),
``{"cron": {field: text}}`` (CronTrigger, see litequeue.crontab) and ``{"at": epoch}``
(DateTrigger). Fire times are epoch seconds. Every beat builds the same timetable from the same
stored entry, so all of them agree on the fire times (the key each fire is recorded under).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .crontab import crontab
from .errors import ConfigurationError

MAX_STEPS = 10_000  # fire times walked one by one before jumping ahead over a long outage
_UNITS = (86400, 3600, 60, 1)  # what "relative" rounds an interval's start down to


def zone(name: str, what: str = "timezone") -> dt.tzinfo:
    """The tzinfo of an IANA zone name; ConfigurationError naming ``what`` if unknown."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{what} must be an IANA time zone name such as 'Europe/Berlin', not {name!r}.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{what}: unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'."
        ) from None


def app_zone(conf: Any) -> str:
    """The zone an app's schedules run in: ``timezone``, else UTC (``enable_utc``), else local."""
    if conf.timezone:
        zone(conf.timezone, "Setting timezone")
        return conf.timezone
    if conf.enable_utc:
        return "UTC"
    from tzlocal import get_localzone_name

    return get_localzone_name() or "UTC"


def to_json(schedule: Any, tz: dt.tzinfo) -> dict:
    """The stored form of a schedule: seconds, timedelta, crontab or datetime (naive = in ``tz``)."""
    if isinstance(schedule, bool):
        raise ConfigurationError("a schedule cannot be a bool")
    if isinstance(schedule, (int, float)):
        return {"every": _positive(float(schedule))}
    if isinstance(schedule, dt.timedelta):
        return {"every": _positive(schedule.total_seconds())}
    if isinstance(schedule, crontab):
        return {"cron": schedule.fields()}
    if isinstance(schedule, dt.datetime):
        aware = schedule if schedule.tzinfo else schedule.replace(tzinfo=tz)
        return {"at": aware.timestamp()}
    raise ConfigurationError(
        f"unknown schedule type {type(schedule).__name__} ({schedule!r}); use seconds, a timedelta, "
        "crontab(...) or a datetime"
    )


def from_json(data: dict, tz: dt.tzinfo) -> Any:
    """The schedule object a stored form stands for (for display and the API)."""
    if "every" in data:
        return dt.timedelta(seconds=data["every"])
    if "cron" in data:
        return crontab.from_fields(data["cron"])
    return dt.datetime.fromtimestamp(data["at"], tz)


def describe(data: dict) -> str:
    """Short text for listings: "every 30s", "cron 30 7 * * 1", "at 2025-01-01T07:00:00+00:00"."""
    if "every" in data:
        return f"every {data['every']:g}s" + (" (relative)" if data.get("relative") else "")
    if "cron" in data:
        return f"cron {crontab.from_fields(data['cron'])}"
    return "once at " + dt.datetime.fromtimestamp(data["at"], dt.UTC).isoformat(timespec="seconds")


def _positive(seconds: float) -> float:
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigurationError(f"an interval must be a positive number of seconds, not {seconds!r}")
    return seconds


@dataclass(frozen=True)
class Due:
    """The fire times that have come (from an entry's next fire up to now), split by lateness."""

    late: list[float]  # the most recent late ones (at most the number asked for), oldest first
    late_total: int  # how many were late in all
    on_time: list[float]  # due within the grace period
    next_fire: float | None  # the first fire time after now


class Timetable:
    """The fire times of one stored schedule in its zone."""

    def __init__(self, schedule_json: str, zone_name: str, start_at: float) -> None:
        self.data = json.loads(schedule_json)
        self.tz = zone(zone_name)
        self.start_at = start_at
        self.cron = crontab.from_fields(self.data["cron"]) if "cron" in self.data else None
        start = dt.datetime.fromtimestamp(start_at, self.tz)
        from apscheduler.triggers.date import DateTrigger  # here: only beat needs APScheduler (fast start-up)
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron is not None:
            self.trigger: Any = self.cron.trigger(self.tz, start)
        elif "every" in self.data:
            self.trigger = IntervalTrigger(seconds=self.data["every"], start_date=start, timezone=self.tz)
        else:
            self.trigger = DateTrigger(run_date=dt.datetime.fromtimestamp(self.data["at"], self.tz))

    @staticmethod
    def start_for(schedule: dict, zone_name: str, now: float) -> float:
        """Where a new entry's timetable starts: one interval from now (or, ``relative``, now
        rounded down to the interval's unit), now for a crontab, the moment for a one-off."""
        if "at" in schedule:
            return schedule["at"]
        if "cron" in schedule:
            return round(now, 3)
        seconds = schedule["every"]
        if not schedule.get("relative"):
            return round(now + seconds, 3)
        unit = next((u for u in _UNITS if u <= seconds), 1)
        local = dt.datetime.fromtimestamp(now, zone(zone_name))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = int((local - midnight).total_seconds() // unit) if unit < 86400 else 0
        return (midnight + dt.timedelta(seconds=steps * unit)).timestamp()

    def first(self, at: float) -> float | None:
        """The first fire time at or after ``at``, or None when nothing is left to fire."""
        if "at" in self.data:
            return self.data["at"] if self.data["at"] >= at else None
        return self._keep(self.trigger.get_next_fire_time(None, self._dt(max(at, self.start_at))))

    def after(self, t: float) -> float | None:
        """The first fire time after the fire time ``t``."""
        return self._keep(self._next(self._dt(t)))

    def due(self, next_fire: float, now: float, grace: float, keep_late: int) -> Due:
        """Walk the fire times from ``next_fire`` up to ``now``: those older than ``grace`` are
        late (only the ``keep_late`` most recent are kept), the rest on time."""
        late: deque[float] = deque(maxlen=max(keep_late, 1))
        on_time: list[float] = []
        late_total = steps = 0
        t: float | None = next_fire
        while t is not None and t <= now:
            if t < now - grace:
                late_total += 1
                late.append(t)
                steps += 1
                if steps == MAX_STEPS:
                    t, skipped = self._jump(next_fire, t, now - grace, keep_late)
                    late_total += skipped
                    late.clear()
                    continue
            else:
                on_time.append(t)
            t = self.after(t)
        return Due(list(late) if keep_late else [], late_total, on_time, t)

    def _jump(self, start: float, reached: float, late_before: float, keep: int) -> tuple[float | None, int]:
        """After a long outage: skip to a little before the last ``keep`` late fire times.
        Returns where to walk on from and roughly how many fire times were skipped."""
        spacing = max((reached - start) / MAX_STEPS, 1e-3)
        resume = self.first(max(reached, late_before - spacing * (keep + 2)))
        skipped = int(((resume or late_before) - reached) / spacing)
        return resume, max(skipped, 0)

    def _dt(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, self.tz)

    def _keep(self, fire: dt.datetime | None) -> float | None:
        """Skip the repeat of a wall-clock time when clocks go back (DST), unless the crontab
        runs every hour: a fixed-time entry runs once per day, an hourly one every real hour."""
        while fire is not None and self.cron is not None and not self.cron.every_hour:
            first_pass = fire.replace(fold=0)
            if not (fire.fold == 1 and self.start_at <= first_pass.timestamp() < fire.timestamp()):
                break
            fire = self._next(fire)
        return fire.timestamp() if fire is not None else None

    def _next(self, previous: dt.datetime) -> dt.datetime | None:
        # "now" just after the previous fire, added in UTC: wall-clock arithmetic would lose
        # the fold of a repeated hour and land an hour early.
        now = previous.astimezone(dt.UTC) + dt.timedelta(microseconds=1)
        return self.trigger.get_next_fire_time(previous, now)
