"""Settings: one object with Celery's key names, validated when a value is set.

``app.conf.task_routes = {...}`` works as in Celery; so do Celery 3's upper-case names
(``CELERY_ROUTES``), which are translated on the way in. A key litequeue does not know, or a value
of the wrong kind, raises ConfigurationError naming the key and the fix.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any

from . import celery_settings, setting_values
from .brokers import FromEnvironment, check_backend, env_broker_url, env_result_backend
from .errors import ConfigurationError
from .setting_values import DEFAULT_PUBLISH_RETRY_POLICY

# Celery 3 setting names and the names they became.
OLD_NAMES = {
    "CELERY_QUEUES": "task_queues",
    "CELERY_ROUTES": "task_routes",
    "CELERY_DEFAULT_QUEUE": "task_default_queue",
    "CELERY_DEFAULT_EXCHANGE": "task_default_exchange",
    "CELERY_DEFAULT_EXCHANGE_TYPE": "task_default_exchange_type",
    "CELERY_DEFAULT_ROUTING_KEY": "task_default_routing_key",
    "CELERY_CREATE_MISSING_QUEUES": "task_create_missing_queues",
    "CELERY_TASK_SERIALIZER": "task_serializer",
    "CELERY_RESULT_SERIALIZER": "result_serializer",
    "CELERY_ACCEPT_CONTENT": "accept_content",
    "CELERY_TASK_RESULT_EXPIRES": "result_expires",
    "CELERY_ALWAYS_EAGER": "task_always_eager",
    "CELERY_EAGER_PROPAGATES_EXCEPTIONS": "task_eager_propagates",
    "CELERY_IGNORE_RESULT": "task_ignore_result",
    "CELERY_ACKS_LATE": "task_acks_late",
    "CELERYD_TASK_TIME_LIMIT": "task_time_limit",
    "CELERYD_TASK_SOFT_TIME_LIMIT": "task_soft_time_limit",
    "CELERYD_CONCURRENCY": "worker_concurrency",
    "CELERYD_MAX_TASKS_PER_CHILD": "worker_max_tasks_per_child",
    "CELERYD_PREFETCH_MULTIPLIER": "worker_prefetch_multiplier",
    "CELERYBEAT_SCHEDULE": "beat_schedule",
    "CELERY_TIMEZONE": "timezone",
    "CELERY_ENABLE_UTC": "enable_utc",
}


@dataclass
class Settings:
    """Every setting litequeue reads, with its default. Assigning validates the value."""

    # the store (Celery's names: the broker is the store, results live with the jobs)
    broker_url: str | None = FromEnvironment(env_broker_url)  # type: ignore[assignment]
    result_backend: str | None = FromEnvironment(env_result_backend)  # type: ignore[assignment]  # None: the store
    # modules a worker imports (Celery's include= and imports)
    include: tuple = ()
    imports: tuple = ()
    task_annotations: Any = None  # a dict, a list of dicts/objects, or an object with annotate(task)
    # serialization
    task_serializer: str = "json"
    result_serializer: str = "json"
    accept_content: tuple = ("json",)
    task_max_payload_bytes: int = 10 * 1024 * 1024
    # routing
    task_default_queue: str = "celery"  # Celery's name; a worker with no -Q still consumes every queue
    task_default_exchange: str = "celery"
    task_default_exchange_type: str = "topic"
    task_default_routing_key: str | None = None
    task_default_priority: int = 0
    task_queues: tuple | None = None
    task_routes: Any = None
    task_create_missing_queues: bool = True
    # calling
    task_always_eager: bool = False
    task_eager_propagates: bool = False
    task_publish_retry: bool = True
    task_publish_retry_policy: dict = field(default_factory=lambda: dict(DEFAULT_PUBLISH_RETRY_POLICY))
    # running
    task_acks_late: bool = True
    task_reject_on_worker_lost: bool | None = None  # None: retried while retries are left (see README)
    task_ignore_result: bool = False
    task_time_limit: float | None = None
    task_soft_time_limit: float | None = None
    task_default_max_retries: int | None = 3
    task_default_rate_limit: str | float | None = None  # Celery's: the rate of tasks that set none (global here)
    result_expires: float | None = 86400.0  # SUCCESS, REVOKED and IGNORED rows; None = keep
    failure_expires: float | None = 30 * 86400.0  # FAILURE rows, kept apart for `failed` / `retry`; None = keep
    worker_concurrency: int | None = None
    worker_disable_rate_limits: bool = False  # Celery's: rate limits from the code are not declared (see flow.py)
    worker_prefetch_multiplier: int = 4  # a worker reserves up to concurrency x this many jobs
    worker_max_tasks_per_child: int | None = None
    worker_max_memory_per_child: int | None = None  # KiB, as in Celery
    worker_lease_seconds: float = 60.0
    worker_heartbeat_interval: float = 10.0
    worker_poll_interval: float = 1.0
    worker_import_tasks_by_name: bool = False  # litequeue's: also run Task objects found by importing a job's name
    worker_autoscale_keepalive: float = 30.0  # --autoscale: seconds a child idles before it is stopped
    # store
    sqlite_synchronous: str = "full"
    sqlite_busy_timeout: float = 5.0
    # beat
    beat_schedule: dict = field(default_factory=dict)
    timezone: str | None = None
    enable_utc: bool = True

    def __setattr__(self, key: str, value: Any) -> None:
        key = OLD_NAMES.get(key) or celery_settings.translate(key) or key
        if key not in _FIELDS:
            if celery_settings.accept_foreign(key, value):  # a Celery setting with no effect here
                self.__dict__.setdefault("_foreign", {})[key] = value
                return
            raise ConfigurationError(_unknown_key_message(key))
        object.__setattr__(self, key, setting_values.validate(key, value))
        # Counts assignments, so what was worked out from the settings (a task's call template)
        # knows when to work it out again.
        object.__setattr__(self, "_version", self.__dict__.get("_version", 0) + 1)

    def __getattr__(self, key: str) -> Any:  # only called for names not found normally
        if key in OLD_NAMES:
            return getattr(self, OLD_NAMES[key])
        if key in self.__dict__.get("_foreign", {}):
            return self.__dict__["_foreign"][key]
        raise AttributeError(_unknown_key_message(key))

    def update(self, values: dict | None = None, **more: Any) -> None:
        """Set several keys at once (Celery's ``app.conf.update``), then check that the routing
        settings fit together (a route to an undeclared queue, ...)."""
        for key, value in {**(values or {}), **more}.items():
            setattr(self, key, value)
        self.check_routing()
        check_backend(self.given("result_backend"), self.given("broker_url"))

    def given(self, key: str) -> Any:
        """A setting as set in code or configuration, without the environment (brokers.FromEnvironment)."""
        return self.__dict__.get(key)

    def prefer_environment(self) -> None:
        """Read $CELERY_BROKER_URL and $CELERY_RESULT_BACKEND before the settings (a Celery app)."""
        object.__setattr__(self, "_environment_first", True)

    def check_routing(self) -> None:
        """Refuse routing settings that contradict each other, naming the key and the fix.

        Checked after a load (``update``, ``config_from_object``) and before first use, so single
        assignments may come in any order."""
        from .routing import Routing

        Routing(self).check()

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def table(self, with_defaults: bool = False, censored: bool = True) -> dict:
        """The settings as plain data (Celery's ``conf.table()``): only those changed from their
        default unless ``with_defaults``; secrets hidden unless ``censored=False``."""
        from .settings_table import table

        return table(self, with_defaults, censored)

    def from_object(self, obj: Any, namespace: str | None = None) -> None:
        """Load settings from an object, a module, or a name: ``"module"`` or ``"module:attr"``.

        Without a namespace: its lower-case keys and Celery 3's upper-case ones (other upper-case
        names are ignored, as Celery does). With ``namespace="CELERY"``: only ``CELERY_*`` keys,
        read without the prefix (``CELERY_BROKER_URL`` is broker_url), as Django projects keep them.
        A key that is neither a setting here nor a Celery one is an error, never skipped."""
        obj = import_object(obj) if isinstance(obj, str) else obj
        self.update(settings_of(obj, namespace))


_FIELDS = {f.name for f in dataclasses.fields(Settings)}


def import_object(name: str) -> Any:
    """``"module"`` -> the module; ``"module:attr"`` (or a dotted path to an attribute) -> the attribute."""
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if attr or "." not in module_name:
            raise ConfigurationError(f"Cannot import settings module {module_name!r}: {exc}") from exc
        module_name, _, attr = module_name.rpartition(".")
        module = import_object(module_name)
    try:
        return getattr(module, attr) if attr else module
    except AttributeError:
        raise ConfigurationError(f"Module {module_name!r} has no attribute {attr!r} to load settings from.") from None


def settings_of(obj: Any, namespace: str | None) -> dict:
    """The settings an object, module or mapping holds (see Settings.from_object)."""
    items = obj.items() if isinstance(obj, dict) else ((name, None) for name in dir(obj))
    values = {}
    for name, value in items:
        if name.startswith("_") or not isinstance(name, str):
            continue
        key = celery_settings.translate(name, namespace) if namespace else name
        if key is None or (not namespace and not name.islower() and name not in OLD_NAMES
                           and name not in celery_settings.OLD_CELERY_NAMES):
            continue  # another namespace's key, or a constant in a settings module
        value = obj[name] if isinstance(obj, dict) else getattr(obj, name)
        if not namespace and _helper(value):
            continue  # a module imported by the config module, a function or class it defines
        values[key] = value
    return values


def _helper(value: Any) -> bool:
    import inspect

    return inspect.ismodule(value) or inspect.isroutine(value) or inspect.isclass(value)


def _unknown_key_message(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(_FIELDS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown setting {key!r}.{hint} See the configuration reference (docs/reference/configuration.md)."
