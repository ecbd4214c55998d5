"""Broker and result-backend URLs as Celery projects write them, turned into the store's URL.

The broker is the store: ``sqlite:///relative.sqlite``, ``sqlite:////absolute.sqlite``, a plain
path, or ``postgresql://...`` (Kombu's ``sqla+`` and the result backend's ``db+`` prefixes are
accepted). Results live with the jobs, so a result backend may only be left out, be ``rpc://``
(results travel back through the broker) or name the same store.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import ConfigurationError

SUPPORTED = ("sqlite:///relative.sqlite, sqlite:////absolute/path.sqlite, a file path, or "
             "postgresql://user@host/dbname")
_SCHEMES = ("sqlite://", "postgresql://", "postgres://")
_PREFIXES = ("sqla+", "db+")


def store_url(value: Any, key: str = "broker_url") -> str:
    """The store URL a broker URL names; ConfigurationError for a broker litequeue does not serve."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigurationError(f"Setting {key} must be a database URL or path ({SUPPORTED}), not {value!r}.")
    url = str(os.fspath(value))
    for prefix in _PREFIXES:
        if url.startswith(prefix + "sqlite://") or url.startswith(prefix + "postgres"):
            url = url[len(prefix):]
    # postgresql+DRIVER:// passes: the store names a driver it does not have
    if "://" in url and not url.startswith(_SCHEMES) and not url.startswith("postgresql+"):
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(
            f"Setting {key} names a {scheme}:// broker; litequeue's broker is a database it opens "
            f"itself. Use {SUPPORTED}.")
    return url


def backend_url(value: Any) -> str | None:
    """The store a result backend names, or None for 'the broker's store' (unset or rpc://)."""
    if value is None or value in ("", "rpc", "rpc://"):
        return None
    try:
        return store_url(value, "result_backend")
    except ConfigurationError:
        raise _not_the_broker(str(value), "another kind of store") from None


def check_backend(backend: str | None, broker: str | None) -> None:
    """Refuse a result backend that is not the broker's store: results live with the jobs."""
    if backend is None or broker is None or same_store(backend, broker):
        return
    from .store import describe_url

    raise _not_the_broker(backend, describe_url(broker))


def _not_the_broker(backend: str, broker: str) -> ConfigurationError:
    from .store import describe_url

    return ConfigurationError(
        f"result_backend {describe_url(backend)!r} is not the broker's store ({broker}); litequeue "
        "keeps results with the jobs. Remove result_backend (or set it to rpc:// or the broker URL).")


def env_broker_url() -> str | None:
    """$CELERY_BROKER_URL, as Celery reads it, checked."""
    value = os.environ.get("CELERY_BROKER_URL")
    return store_url(value, "CELERY_BROKER_URL") if value else None


def env_result_backend() -> str | None:
    """$CELERY_RESULT_BACKEND, as Celery reads it: None when unset, rpc:// or the broker's store."""
    return backend_url(os.environ.get("CELERY_RESULT_BACKEND") or None)


class FromEnvironment:
    """A setting Celery reads from an environment variable first: ``broker_url`` from
    $CELERY_BROKER_URL, ``result_backend`` from $CELERY_RESULT_BACKEND. Reading it gives what the
    app uses: for a Celery app the variable, else the setting (Celery's order: the environment
    wins over the code); for a LiteQueue app the setting, else the variable. The value set in code
    or configuration stays as given (``Settings.given``)."""

    def __init__(self, read: Any) -> None:
        self.read = read  # the variable's value, checked as the setting's would be

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, conf: Any, owner: type | None = None) -> str | None:
        if conf is None:
            return None  # the setting's default (read so by dataclasses)
        given = conf.__dict__.get(self.name)
        if given is not None and not conf.__dict__.get("_environment_first"):
            return given
        return self.read() or given

    def __set__(self, conf: Any, value: str | None) -> None:
        conf.__dict__[self.name] = value


def same_store(a: str, b: str) -> bool:
    from .store.sqlite import path_from_url

    def key(url: str) -> str:
        return url if url.startswith("postgres") else os.path.abspath(path_from_url(url))

    return key(a) == key(b)
