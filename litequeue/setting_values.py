"""What each setting's value must be: one check per setting, each raising ConfigurationError that
names the key and the fix (Settings calls ``validate`` whenever a value is set)."""

from __future__ import annotations

from typing import Any

from .brokers import backend_url, store_url
from .errors import ConfigurationError

DEFAULT_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0.0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def _positive_or_none(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"Setting {key} must be a positive number or None, not {value!r}.")
    return value


def validate(key: str, value: Any) -> Any:
    """``value`` as the setting ``key`` keeps it; ConfigurationError naming the key and the fix
    when it is not a value that setting can take."""
    validator = _VALIDATORS.get(key)
    return validator(key, value) if validator else value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"Setting {key} must be True or False, not {value!r}.")
    return value


def _priority(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise ConfigurationError(f"Setting {key} must be an integer (higher runs first), not {value!r}.")
    return value


def _serializer(key: str, value: Any) -> str:
    if value not in ("json", "pickle"):
        raise ConfigurationError(f"Setting {key} must be 'json' or 'pickle', not {value!r}.")
    return value


def _accept(key: str, value: Any) -> tuple:
    if isinstance(value, str):
        value = (value,)
    return tuple(value)


def _synchronous(key: str, value: Any) -> str:
    value = str(value).lower()
    if value not in ("full", "normal", "off", "extra"):
        raise ConfigurationError(
            f"Setting {key} must be 'full' (survives power loss) or 'normal' (faster; survives "
            f"process crashes), not {value!r}."
        )
    return value


def _exchange_type(key: str, value: Any) -> str:
    if value not in ("topic", "direct"):
        raise ConfigurationError(
            f"Setting {key}={value!r} is not a supported exchange type; use 'topic' (bindings with "
            "'*' and '#' wildcards) or 'direct' (routing keys equal to a binding)."
        )
    return value


def _publish_policy(key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigurationError(f"Setting {key} must be a dict like {DEFAULT_PUBLISH_RETRY_POLICY}.")
    unknown = set(value) - set(DEFAULT_PUBLISH_RETRY_POLICY)
    if unknown:
        raise ConfigurationError(
            f"Setting {key} has unknown keys {sorted(unknown)}; use {sorted(DEFAULT_PUBLISH_RETRY_POLICY)}."
        )
    from .errors import InvalidOptionError
    from .publish_retry import publish_policy

    merged = {**DEFAULT_PUBLISH_RETRY_POLICY, **value}
    try:
        publish_policy(merged)  # the values too, once, rather than at every call
    except InvalidOptionError as exc:
        raise ConfigurationError(f"Setting {key}: {exc.message}") from None
    return merged


def _max_retries(key: str, value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigurationError(f"Setting {key} must be an integer >= 0, or None for no limit.")
    return value


def _queue_name(key: str, value: Any) -> str:
    from .errors import InvalidOptionError
    from .routing import check_name

    try:
        return check_name(value, key)
    except InvalidOptionError as exc:  # a setting's error is a configuration error
        raise ConfigurationError(exc.message) from None


def _queues(key: str, value: Any) -> Any:
    from .routing import check_queues

    return check_queues(value, key)


def _routing_key(key: str, value: Any) -> str | None:
    return None if value is None else _queue_name(key, value)


def _routes(key: str, value: Any) -> Any:
    from .routing import check_routes

    return check_routes(value, key)


def _broker(key: str, value: Any) -> str | None:
    return None if value is None else store_url(value, key)


def _backend(key: str, value: Any) -> str | None:
    return backend_url(value)


def _modules(key: str, value: Any) -> tuple:
    value = (value,) if isinstance(value, str) else tuple(value or ())
    if not all(isinstance(name, str) and name for name in value):
        raise ConfigurationError(f"Setting {key} must be a list of module names, not {value!r}.")
    return value


def _rate(key: str, value: Any) -> Any:
    from .flow import parse_rate

    parse_rate(value, f"Setting {key}")
    return value


_VALIDATORS = {
    "task_default_rate_limit": _rate,
    "worker_disable_rate_limits": _bool,
    "broker_url": _broker,
    "result_backend": _backend,
    "include": _modules,
    "imports": _modules,
    "task_serializer": _serializer,
    "result_serializer": _serializer,
    "accept_content": _accept,
    "task_default_queue": _queue_name,
    "task_default_priority": _priority,
    "task_default_exchange_type": _exchange_type,
    "task_default_exchange": _queue_name,
    "task_default_routing_key": _routing_key,
    "task_routes": _routes,
    "task_queues": _queues,
    "task_create_missing_queues": _bool,
    "task_always_eager": _bool,
    "task_eager_propagates": _bool,
    "task_publish_retry": _bool,
    "task_publish_retry_policy": _publish_policy,
    "task_acks_late": _bool,
    "task_reject_on_worker_lost": lambda key, value: None if value is None else _bool(key, value),
    "task_ignore_result": _bool,
    "task_time_limit": _positive_or_none,
    "task_soft_time_limit": _positive_or_none,
    "task_default_max_retries": _max_retries,
    "result_expires": _positive_or_none,
    "failure_expires": _positive_or_none,
    "worker_max_tasks_per_child": _positive_or_none,
    "worker_prefetch_multiplier": _positive_or_none,
    "worker_max_memory_per_child": _positive_or_none,
    "worker_lease_seconds": _positive_or_none,
    "worker_autoscale_keepalive": _positive_or_none,
    "worker_heartbeat_interval": _positive_or_none,
    "worker_poll_interval": _positive_or_none,
    "worker_import_tasks_by_name": _bool,
    "sqlite_synchronous": _synchronous,
    "sqlite_busy_timeout": _positive_or_none,
    "enable_utc": _bool,
}
