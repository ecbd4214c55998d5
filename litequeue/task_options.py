"""The options of ``@app.task(...)`` (Celery's task options), checked once where the task is declared."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigurationError


@dataclass(frozen=True)
class TaskOptions:
    """The options of ``@app.task(...)``, checked once where the task is declared."""

    name: str | None = None
    bind: bool = False
    ignore_result: bool | None = None
    queue: str | None = None
    routing_key: str | None = None
    priority: int | None = None
    serializer: str | None = None
    acks_late: bool | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    expires: float | None = None
    max_retries: int | None | object = ...  # ... = the app's default
    default_retry_delay: float = 180.0
    autoretry_for: tuple = ()
    dont_autoretry_for: tuple = ()
    retry_backoff: bool | float = False
    retry_backoff_max: float = 600.0
    retry_jitter: bool = True
    # Flow control (docs/guide/flow-control.md): enforced by the store across all workers.
    rate_limit: str | float | None = None  # Celery's forms: "10/s", "100/m", "1000/h", a number per second
    concurrency: int | None = None  # at most this many running at once (per concurrency_key)
    concurrency_key: Callable[..., Any] | None = None  # f(*args, **kwargs) -> key, evaluated at enqueue
    unique_for: float | None = None  # seconds: a call with the same unique key meanwhile returns the job there
    unique_key: Callable[..., Any] | None = None  # f(*args, **kwargs) -> key (default: the arguments)
    typing: bool = True  # check each call's arguments against the function's signature (Celery's default)
    retry_kwargs: dict = field(default_factory=dict)  # autoretry's max_retries / countdown
    throws: tuple = ()  # expected errors: logged in one line, without a traceback
    reject_on_worker_lost: bool | None = None  # True: requeue when the child dies; False: fail (Celery)
    track_started: bool | None = None  # STARTED is always recorded here; accepted for Celery code

    def __post_init__(self) -> None:
        where = f"@app.task option for {self.name or 'this task'}"
        self._check_flow(where)
        _check_retry_kwargs(where, self.retry_kwargs)
        object.__setattr__(self, "throws", _exception_classes(where, "throws", self.throws))
        for name in ("autoretry_for", "dont_autoretry_for"):
            value = getattr(self, name)
            value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            if not all(isinstance(c, type) and issubclass(c, BaseException) for c in value):
                raise ConfigurationError(f"{where}: {name} must be a tuple of exception classes, not {value!r}.")
            object.__setattr__(self, name, value)
        if self.max_retries is not ... and self.max_retries is not None:
            if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
                raise ConfigurationError(
                    f"{where}: max_retries must be an integer >= 0, or None to retry forever; got {self.max_retries!r}."
                )
        for name in ("default_retry_delay", "retry_backoff_max"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) < 0:
                raise ConfigurationError(
                    f"{where}: {name} must be a number of seconds >= 0; got {getattr(self, name)!r}."
                )
        for name in ("time_limit", "soft_time_limit"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                raise ConfigurationError(f"{where}: {name} must be a positive number of seconds.")
        if not isinstance(self.retry_backoff, (bool, int, float)) or self.retry_backoff < 0:
            raise ConfigurationError(
                f"{where}: retry_backoff must be True, False or seconds >= 0; got {self.retry_backoff!r}."
            )
        if not isinstance(self.retry_jitter, bool):
            raise ConfigurationError(f"{where}: retry_jitter must be True or False, not {self.retry_jitter!r}.")
        if self.priority is not None and (isinstance(self.priority, bool) or not isinstance(self.priority, int)):
            raise ConfigurationError(f"{where}: priority must be an integer.")

    def _check_flow(self, where: str) -> None:
        from .flow import check_concurrency, check_seconds, parse_rate

        parse_rate(self.rate_limit, f"{where} rate_limit")
        check_concurrency(self.concurrency, where)
        check_seconds(self.unique_for, where)
        for name in ("concurrency_key", "unique_key"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ConfigurationError(f"{where}: {name} must be a function of the task's arguments, "
                                         f"not {getattr(self, name)!r}.")
        if self.concurrency_key is not None and self.concurrency is None:
            raise ConfigurationError(
                f"{where}: concurrency_key needs concurrency=N (how many may run at once per key).")
        if self.unique_key is not None and self.unique_for is None:
            raise ConfigurationError(f"{where}: unique_key needs unique_for=seconds (how long a job stays unique).")

    @property
    def rate_interval(self) -> float | None:
        """Seconds between two starts under ``rate_limit`` (None: no limit)."""
        from .flow import parse_rate

        return parse_rate(self.rate_limit, "rate_limit")

    @classmethod
    def from_kwargs(cls, options: dict) -> TaskOptions:
        known = {f.name for f in fields(cls)}
        options = _without_no_effect_options(options)
        unknown = set(options) - known
        if unknown:
            raise ConfigurationError(
                f"Unknown @app.task option(s) {sorted(unknown)}; known options are {sorted(known)}."
            )
        return cls(**options)


# Celery task options with nothing to change here (no event stream, no message compression, ...).
NO_EFFECT_OPTIONS = frozenset({"shared", "lazy", "trail", "compression", "send_events", "resultrepr_maxsize",
                               "store_errors_even_if_ignored", "abstract", "request_stack"})
_noticed_options: set[str] = set()


def _without_no_effect_options(options: dict) -> dict:
    for key in NO_EFFECT_OPTIONS & options.keys():
        if key not in _noticed_options:
            _noticed_options.add(key)
            logging.getLogger("litequeue.task").warning("Task option %s has no effect with litequeue; ignored.", key)
    return {k: v for k, v in options.items() if k not in NO_EFFECT_OPTIONS}


def _exception_classes(where: str, name: str, value: Any) -> tuple:
    value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not all(isinstance(c, type) and issubclass(c, BaseException) for c in value):
        raise ConfigurationError(f"{where}: {name} must be a tuple of exception classes, not {value!r}.")
    return value


def _check_retry_kwargs(where: str, value: Any) -> None:
    if not isinstance(value, dict) or set(value) - {"max_retries", "countdown"}:
        raise ConfigurationError(f"{where}: retry_kwargs takes max_retries and countdown, like "
                                 f"{{'max_retries': 5, 'countdown': 2}}; got {value!r}.")
