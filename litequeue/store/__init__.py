"""The store: the only package that talks to the database (and the only one importing peewee)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Store
from .claims import ClaimRequest
from .records import Flow, Job, NewJob, Outcome, QueueStats, WorkerInfo
from .sqlite import SqliteStore, path_from_url  # the default: imported now, not by a program's first send
from .urls import describe_url, is_postgres_url

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Store", "ClaimRequest", "Flow", "Job", "NewJob", "Outcome", "QueueStats", "WorkerInfo", "open_store",
           "describe_url", "is_postgres_url"]


def open_store(url: str, settings: Settings, share_database: bool = False, readonly: bool = False,
               must_exist: bool = False) -> Store:
    """Open (creating if needed) the store at ``url``: a path, ``sqlite:///path``, or
    ``postgresql://user@host:5432/dbname[?schema=name]`` (``postgresql+psycopg://`` or
    ``postgresql+psycopg2://`` to choose the driver).

    ``readonly=True`` is for reading commands and monitoring: the store must exist already (it is
    never created or upgraded), nothing is ever written to it, and read access is enough (an
    SQLite file opened ``mode=ro``; a PostgreSQL session with read-only transactions).

    ``must_exist=True`` is for a worker's own processes: an SQLite file is opened ``mode=rw``, so
    one deleted under the worker is never created anew (the worker's file check reports it deleted)."""
    from ..errors import ConfigurationError

    if is_postgres_url(url):
        from .postgres import PostgresStore

        return PostgresStore(url, readonly=readonly)
    path = path_from_url(url)
    if path in ("", ":memory:"):
        raise ConfigurationError(
            "An in-memory database cannot be shared with worker processes; give a file path "
            "(for tests, a file in a temporary directory)."
        )
    return SqliteStore(path, synchronous=settings.sqlite_synchronous, busy_timeout=settings.sqlite_busy_timeout,
                       share_database=share_database, readonly=readonly, must_exist=must_exist)
