"""``crontab(...)``: Celery's (and cron's) schedule fields, turned into an APScheduler CronTrigger.

Each field takes what Celery's crontab takes: an int, a string such as ``"*"``, ``"*/15"``,
``"1-5"``, ``"0-30/10"``, ``"mon-fri"`` or ``"1,15"``, or a list of those. ``day_of_week`` counts
as cron does, 0 (or 7) being Sunday; APScheduler counts 0 as Monday, so weekdays are handed to it
by name. As in Celery, a time must match every field (day of month AND day of week).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")  # Celery's order
CRON_ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")  # a crontab line's
_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day_of_week": (0, 6), "day_of_month": (1, 31),
           "month_of_year": (1, 12)}
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FULL_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_FULL_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december"]
_NAMES = {"day_of_week": {**{d: i for i, d in enumerate(_DAYS)}, **{d: i for i, d in enumerate(_FULL_DAYS)}},
          "month_of_year": {**{m: i + 1 for i, m in enumerate(_MONTHS)},
                            **{m: i + 1 for i, m in enumerate(_FULL_MONTHS)}}}


class crontab:  # noqa: N801 - Celery's name
    """A cron-like schedule: ``crontab(minute=30, hour=7, day_of_week="mon-fri")``.

    Fields default to ``"*"`` (every value). Bad values raise ConfigurationError naming the field.
    """

    def __init__(self, minute: Any = "*", hour: Any = "*", day_of_week: Any = "*",
                 day_of_month: Any = "*", month_of_year: Any = "*") -> None:
        given = dict(minute=minute, hour=hour, day_of_week=day_of_week, day_of_month=day_of_month,
                     month_of_year=month_of_year)
        self.values: dict[str, frozenset[int]] = {name: expand(name, given[name]) for name in FIELDS}

    @classmethod
    def from_cron_line(cls, line: str) -> crontab:
        """A crontab from a crontab line's five fields: ``"*/5 * * * *"`` (minute hour
        day-of-month month day-of-week)."""
        parts = line.split()
        if len(parts) != 5:
            raise ConfigurationError(
                f"A cron line has 5 fields (minute hour day-of-month month day-of-week), "
                f"not {len(parts)}: {line!r}. Example: '*/5 * * * *'."
            )
        return cls(**dict(zip(CRON_ORDER, parts, strict=True)))

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> crontab:
        """The inverse of ``fields()``."""
        return cls(**fields)

    def fields(self) -> dict[str, str]:
        """Each field in canonical text ("*", "1-5", "0,30"): equal crontabs give equal fields."""
        return {name: compact(name, self.values[name]) for name in FIELDS}

    @property
    def every_hour(self) -> bool:
        """True when the hour field matches every hour (such entries follow real time across a
        DST change; fixed-hour entries run once per wall-clock time)."""
        return len(self.values["hour"]) == 24

    def trigger(self, timezone: dt.tzinfo, start: dt.datetime | None = None) -> CronTrigger:
        """The APScheduler trigger firing at this crontab's times in ``timezone``."""
        from apscheduler.triggers.cron import CronTrigger  # here: only beat needs APScheduler (fast start-up)

        text = self.fields()
        days = self.values["day_of_week"]
        weekdays = "*" if len(days) == 7 else ",".join(_DAYS[d] for d in sorted(days))
        return CronTrigger(
            second=0, minute=text["minute"], hour=text["hour"], day=text["day_of_month"],
            month=text["month_of_year"], day_of_week=weekdays, timezone=timezone, start_date=start,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, crontab) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.fields().items())))

    def __str__(self) -> str:
        return " ".join(self.fields()[name] for name in CRON_ORDER)

    def __repr__(self) -> str:
        text = self.fields()
        return "<crontab: {} (m/h/dow/dom/moy)>".format(" ".join(text[name] for name in FIELDS))


def expand(field: str, value: Any) -> frozenset[int]:
    """The set of values a crontab field matches; ConfigurationError naming the field if bad."""
    if isinstance(value, bool):
        raise _bad(field, value, "a number, a string like '*/15' or '1-5', or a list of those")
    if isinstance(value, int):
        return frozenset({_wrap(field, _in_bounds(field, value, value))})
    if isinstance(value, str):
        parts: Iterable[Any] = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset, range)):
        parts = value
    else:
        raise _bad(field, value, "a number, a string like '*/15' or '1-5', or a list of those")
    out: set[int] = set()
    for part in parts:
        out |= expand(field, part) if isinstance(part, int) else _expand_part(field, str(part).strip().lower(), value)
    if not out:
        raise _bad(field, value, "at least one value")
    return frozenset(out)


def compact(field: str, values: frozenset[int]) -> str:
    """Canonical text of a field's values: "*", or runs as "a-b" joined by commas."""
    low, high = _BOUNDS[field]
    if len(values) == high - low + 1:
        return "*"
    ordered, runs = sorted(values), []
    start = prev = ordered[0]
    for v in ordered[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ",".join(runs)


def _expand_part(field: str, part: str, whole: Any) -> set[int]:
    low, high = _BOUNDS[field]
    top = 7 if field == "day_of_week" else high  # cron allows 7 for Sunday
    body, _, step_text = part.partition("/")
    step = _number(field, step_text, whole) if step_text else 1
    if step < 1:
        raise _bad(field, whole, "a step of at least 1 (as in '*/15')")
    if body == "*":
        first, last = low, high
    elif "-" in body:
        first_text, _, last_text = body.partition("-")
        first, last = _value(field, first_text, whole), _value(field, last_text, whole)
    else:
        first = _value(field, body, whole)
        last = top if step_text else first  # cron's "a/n" means from a to the end, every n
    for v in (first, last):
        _in_bounds(field, v, whole)
    if first > last:
        if field != "day_of_week":
            raise _bad(field, whole, f"a range that goes upwards ({last}-{first}, not {first}-{last})")
        return {_wrap(field, v % 7) for v in range(first, last + 8, step)}  # "fri-mon" wraps the week
    return {_wrap(field, v) for v in range(first, last + 1, step)}


def _value(field: str, text: str, whole: Any) -> int:
    names = _NAMES.get(field, {})
    return names[text] if text in names else _number(field, text, whole)


def _number(field: str, text: str, whole: Any) -> int:
    if not text.isdigit():
        names = _NAMES.get(field)
        hint = f" or names ({', '.join(list(names)[:3])}, ...)" if names else ""
        raise _bad(field, whole, f"numbers{hint}, '*', ranges 'a-b' and steps '/n'")
    return int(text)


def _wrap(field: str, value: int) -> int:
    return 0 if field == "day_of_week" and value == 7 else value


def _in_bounds(field: str, value: int, whole: Any) -> int:
    low, high = _BOUNDS[field]
    high = 7 if field == "day_of_week" else high  # cron allows 7 for Sunday
    if not low <= value <= high:
        raise _bad(field, whole, f"values from {low} to {high}")
    return value


def _bad(field: str, value: Any, expected: str) -> ConfigurationError:
    extra = " (0 and 7 are Sunday)" if field == "day_of_week" else ""
    return ConfigurationError(f"crontab {field}={value!r} is not valid: use {expected}{extra}.")
