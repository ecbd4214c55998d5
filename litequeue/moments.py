"""When a call's jobs are due and expire: eta, countdown, expires and retry times as epoch
seconds, each checked to be a time a job can be scheduled for."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from .errors import InvalidOptionError

# Times a job may be scheduled for: a later one cannot be shown as a date (and is surely a bug).
LATEST = 32503680000.0  # 3000-01-01 UTC


def bounded(epoch: float, what: str) -> float:
    """``epoch`` if it is a time a job can be scheduled for (1970 to 3000), else an error naming ``what``."""
    if not 0.0 <= epoch < LATEST:
        raise InvalidOptionError(f"{what} must be between 1970 and the year 3000 (got {_as_date(epoch)}).")
    return epoch


def _as_date(epoch: float) -> str:
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(sep=" ", timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return f"{epoch:g} seconds since 1970"


def _timestamp(value: dt.datetime, what: str, naive_utc: bool) -> float:
    try:
        return epoch_of(value, naive_utc)
    except (OverflowError, ValueError, OSError):
        raise InvalidOptionError(f"{what} {value!r} is not a time a job can be scheduled for; give a datetime "
                                 "between 1970 and the year 3000.") from None


def to_epoch(value: Any, what: str, naive_utc: bool = True) -> float:
    """A datetime or epoch number -> epoch seconds. A naive datetime is UTC while ``enable_utc``
    (``naive_utc``) is True, as in Celery, and the machine's local time when it is False."""
    if isinstance(value, dt.datetime):
        return bounded(_timestamp(value, what, naive_utc), what)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return bounded(float(value), what)
    raise InvalidOptionError(f"{what} must be a datetime, not {type(value).__name__} ({value!r}).")


def epoch_of(moment: dt.datetime, naive_utc: bool) -> float:
    if moment.tzinfo is None and naive_utc:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()  # a naive datetime left naive is local time


def retry_time(countdown: Any, eta: Any, default_delay: float, naive_utc: bool = True) -> float:
    """Epoch seconds of the next attempt asked for by ``task.retry(countdown=, eta=)``."""
    if countdown is not None and eta is not None:
        raise InvalidOptionError("Give retry() either countdown or eta, not both.")
    if eta is not None:
        return to_epoch(eta, "retry() eta", naive_utc)
    return bounded(time.time() + (default_delay if countdown is None else seconds(countdown, "retry() countdown")),
                   "retry() countdown")


def seconds(value: Any, what: str) -> float:
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionError(f"{what} must be a number of seconds, not {value!r}.")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidOptionError(f"{what} must be a finite number of seconds, not {value!r}.")
    if value < 0:
        fix = {"countdown": "use 0 to run at once", "expires": "give the seconds from now, or a datetime"}.get(
            what, "give a positive number of seconds")
        raise InvalidOptionError(f"{what} must not be negative (got {value!r}); {fix}.")
    return float(value)


def eta_of_call(options: dict, now: float, naive_utc: bool) -> float | None:
    countdown, eta = options.get("countdown"), options.get("eta")
    if countdown is not None and eta is not None:
        raise InvalidOptionError("Give either countdown or eta, not both.")
    if countdown is not None:
        return bounded(now + seconds(countdown, "countdown"), "countdown")
    if eta is not None:
        if not isinstance(eta, dt.datetime):
            raise InvalidOptionError(
                f"eta must be a datetime, not {type(eta).__name__} ({eta!r}); for seconds from now use countdown.")
        return bounded(_timestamp(eta, "eta", naive_utc), "eta")
    return None


def expires_of_call(value: Any, now: float, naive_utc: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return bounded(_timestamp(value, "expires", naive_utc), "expires")
    return bounded(now + seconds(value, "expires"), "expires")
