"""Celery's settings as litequeue reads them: names translated, the ones with no meaning here
accepted with a notice, the ones that would change behaviour in a way litequeue does not offer
refused with a clear error.

A Celery config module should load unchanged. Three kinds of key need care:

* *Old and namespaced names* (``CELERY_BROKER_URL``, ``BROKER_URL``, ``CELERY_TASK_SERIALIZER``
  under ``namespace='CELERY'``) become the lower-case names of ``Settings``.
* *No meaning here* (``broker_pool_limit``, ``worker_send_task_events``, ...): there is no broker
  connection, no event stream, nothing for them to change. Accepted; logged once per process:
  when set, in a program using litequeue as a library; under the command line, where they would
  otherwise be logged by every command that loads the app, only when a worker or beat starts
  (``notices_deferred`` / ``announce``).
* *A behaviour litequeue does not offer* (message signing, a custom beat scheduler, a second
  result store): refused, unless the value asks for what litequeue does anyway.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from .errors import ConfigurationError

log = logging.getLogger("litequeue.config")

# Celery 3 / upper-case names and the names they became (besides the ones config.OLD_NAMES has).
OLD_CELERY_NAMES = {
    "BROKER_URL": "broker_url",
    "BROKER_HOST": "broker_url",
    "CELERY_RESULT_BACKEND": "result_backend",
    "CELERY_IMPORTS": "imports",
    "CELERY_INCLUDE": "include",
    "CELERY_ANNOTATIONS": "task_annotations",
    "CELERY_TRACK_STARTED": "task_track_started",
    "CELERY_TASK_PUBLISH_RETRY": "task_publish_retry",
    "CELERY_TASK_PUBLISH_RETRY_POLICY": "task_publish_retry_policy",
    "CELERY_DEFAULT_PRIORITY": "task_default_priority",
    "CELERYD_MAX_MEMORY_PER_CHILD": "worker_max_memory_per_child",
    "CELERYD_TASK_LOG_FORMAT": "worker_task_log_format",
    "CELERYD_LOG_FORMAT": "worker_log_format",
    "CELERYD_HIJACK_ROOT_LOGGER": "worker_hijack_root_logger",
    "CELERY_SEND_EVENTS": "worker_send_task_events",
    "CELERY_SEND_TASK_SENT_EVENT": "task_send_sent_event",
    "CELERY_DISABLE_RATE_LIMITS": "worker_disable_rate_limits",
    "CELERY_DEFAULT_RATE_LIMIT": "task_default_rate_limit",
    "CELERY_STORE_ERRORS_EVEN_IF_IGNORED": "task_store_errors_even_if_ignored",
    "CELERY_MESSAGE_COMPRESSION": "task_compression",
    "CELERY_RESULT_PERSISTENT": "result_persistent",
    "BROKER_POOL_LIMIT": "broker_pool_limit",
    "BROKER_CONNECTION_TIMEOUT": "broker_connection_timeout",
    "BROKER_CONNECTION_RETRY": "broker_connection_retry",
    "BROKER_CONNECTION_MAX_RETRIES": "broker_connection_max_retries",
    "BROKER_HEARTBEAT": "broker_heartbeat",
    "BROKER_TRANSPORT_OPTIONS": "broker_transport_options",
    "BROKER_USE_SSL": "broker_use_ssl",
    "CELERYBEAT_SCHEDULER": "beat_scheduler",
    "CELERYBEAT_SCHEDULE_FILENAME": "beat_schedule_filename",
    "CELERYBEAT_MAX_LOOP_INTERVAL": "beat_max_loop_interval",
}

# Celery settings about a broker connection, events, remote-control broadcast, logging colours or
# other result backends: nothing here for them to change.
NO_EFFECT = frozenset({
    "broker_connection_retry", "broker_connection_retry_on_startup", "broker_connection_max_retries",
    "broker_connection_timeout", "broker_channel_error_retry", "broker_heartbeat",
    "broker_heartbeat_checkrate", "broker_pool_limit", "broker_transport", "broker_transport_options",
    "broker_login_method", "broker_use_ssl", "broker_failover_strategy", "broker_native_delayed_delivery_queue_type",
    "result_backend_transport_options", "result_persistent", "result_compression", "result_extended",
    "result_accept_content", "result_cache_max", "result_exchange", "result_exchange_type",
    "result_chord_join_timeout", "result_chord_retry_interval", "result_chord_ordered",
    "result_backend_always_retry", "result_backend_max_retries", "result_backend_max_sleep_between_retries",
    "result_backend_base_sleep_between_retries", "result_backend_thread_safe",
    "task_compression", "task_send_sent_event", "task_track_started", "task_remote_tracebacks",
    "task_store_eager_result", "task_default_delivery_mode", "task_queue_max_priority",
    "task_store_errors_even_if_ignored", "task_allow_error_cb_on_chord_header",
    "worker_send_task_events", "worker_enable_remote_control", "worker_hijack_root_logger",
    "worker_log_color", "worker_log_format", "worker_task_log_format", "worker_redirect_stdouts",
    "worker_redirect_stdouts_level", "worker_pool_restarts", "worker_proc_alive_timeout", "worker_lost_wait",
    "worker_timer_precision", "worker_state_db", "worker_direct",
    "worker_cancel_long_running_tasks_on_connection_loss", "worker_soft_shutdown_timeout",
    "worker_enable_soft_shutdown_on_idle", "worker_detect_quorum_queues", "worker_deduplicate_successful_tasks",
    "worker_agent", "worker_autoscaler", "worker_consumer", "worker_timer",
    "event_queue_expires", "event_queue_ttl", "event_queue_prefix", "event_serializer", "event_exchange",
    "control_queue_ttl", "control_queue_expires", "control_exchange", "control_queue_durable",
    "control_queue_exclusive", "beat_schedule_filename", "beat_sync_every", "beat_max_loop_interval",
    "beat_cron_starting_deadline", "database_engine_options", "database_short_lived_sessions",
    "database_table_schemas", "database_table_names", "database_create_tables_at_setup",
    "redis_backend_health_check_interval", "redis_max_connections", "redis_socket_timeout",
    "redis_socket_connect_timeout", "redis_retry_on_timeout", "redis_socket_keepalive",
    "task_inherit_parent_priority", "deprecated_settings", "cache_backend", "cache_backend_options",
})

# Settings whose other values ask for something litequeue does not do: the value litequeue
# honours anyway (accepted quietly), and what to do instead.
ONLY_VALUE = {
    "task_acks_on_failure_or_timeout": (True, "a job that fails or times out is always acknowledged "
                                              "(use autoretry_for or retry() to run it again)"),
    "beat_scheduler": ("celery.beat:PersistentScheduler", "beat keeps its schedule in the store; "
                                                          "entries change with `litequeue schedule`"),
    "worker_pool": ("prefork", "workers run jobs in a pool of processes"),
    "security_key": (None, "message signing is not offered: the store is a local file or your "
                           "own PostgreSQL, not a shared broker"),
    "security_certificate": (None, "message signing is not offered"),
    "security_cert_store": (None, "message signing is not offered"),
    "security_digest": (None, "message signing is not offered"),
    "security_key_password": (None, "message signing is not offered"),
    "broker_read_url": (None, "one store serves reads and writes; set broker_url only"),
    "broker_write_url": (None, "one store serves reads and writes; set broker_url only"),
}

_noticed: set[str] = set()  # the keys logged in this process
_deferred = [False]  # under the command line: logged when a worker or beat starts (announce)


def translate(key: str, namespace: str | None = None) -> str | None:
    """The litequeue name of a Celery key (old upper-case names too), or None for a key that
    belongs to another namespace (``DEBUG`` in Django settings under namespace 'CELERY')."""
    if namespace:
        prefix = f"{namespace}_"
        if not key.startswith(prefix):
            return None
        return key[len(prefix):].lower()
    return OLD_CELERY_NAMES.get(key, key)


def accept_foreign(key: str, value: Any) -> bool:
    """True when ``key`` is a Celery setting with no effect here (logged once); raises
    ConfigurationError for one that would change behaviour in a way litequeue does not offer.
    False for a key Celery does not have either."""
    if key in NO_EFFECT:
        if not _deferred[0]:
            _notice(key)
        return True
    if key in ONLY_VALUE:
        honoured, instead = ONLY_VALUE[key]
        if value != honoured and not (isinstance(honoured, str) and value in _ALIASES.get(honoured, ())):
            raise ConfigurationError(f"Setting {key}={value!r} is not supported by litequeue: {instead}. "
                                     "Remove the setting.")
        return True
    return False


def _notice(key: str) -> None:
    if key not in _noticed:
        _noticed.add(key)
        log.warning("Celery setting %s has no effect with litequeue; ignored.", key)


@contextlib.contextmanager
def notices_deferred() -> Iterator[None]:
    """While the command line runs: settings with no effect are logged by ``announce`` (when a
    worker or beat starts), not by every command that loads the app."""
    before, _deferred[0] = _deferred[0], True
    try:
        yield
    finally:
        _deferred[0] = before


def announce(conf: Any) -> None:
    """Log the settings with no effect that ``conf`` holds (each once per process)."""
    for key in conf.__dict__.get("_foreign", {}):
        if key in NO_EFFECT:
            _notice(key)


_ALIASES = {
    "celery.beat:PersistentScheduler": ("celery.beat.PersistentScheduler", None),
    "prefork": ("processes", None),
}
