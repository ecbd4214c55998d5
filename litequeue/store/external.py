"""Jobs written through a connection the application owns, inside the application's transaction.

An integration (``litequeue.contrib.sqlalchemy``, ``litequeue.contrib.django``) wraps the
application's connection in an ``ExternalConnection`` and makes it current for a block; while it
is, every job this thread sends to a store in the same database is inserted through that
connection instead of the store's own. The job then commits or rolls back with the application's
own rows, no second connection waits for a write lock the first one holds, and workers are woken
only once the transaction has committed (SQLite: after the commit; PostgreSQL: a NOTIFY sent in
the transaction, which the server delivers at commit and drops on rollback).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from ..errors import ConfigurationError


class ExternalConnection(Protocol):
    """What the store needs of an application's connection."""

    dialect: str  # "sqlite" or "postgresql"
    paramstyle: str  # "qmark" (?) or "format" (%s)
    description: str  # how to name it in an error message
    checked: set[int]  # the stores (ids) already found to be in this database

    def execute(self, sql: str, rows: Sequence[tuple]) -> list[tuple]:
        """Run ``sql`` once per row in the connection's current transaction (beginning one if
        none is open); the rows the last run returned."""

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the current transaction has committed (never, if it rolls back)."""

    def sqlite_path(self) -> str | None:
        """The file of an SQLite connection's main database."""


_current: contextvars.ContextVar[ExternalConnection | None] = contextvars.ContextVar(
    "litequeue_external_connection", default=None)


def current() -> ExternalConnection | None:
    """The application's connection that jobs are sent through in this context, or None."""
    return _current.get()


@contextlib.contextmanager
def sending_through(conn: ExternalConnection) -> Iterator[ExternalConnection]:
    """Inside the block, jobs sent from this context are written through ``conn``."""
    token = _current.set(conn)
    try:
        yield conn
    finally:
        _current.reset(token)


def in_style(sql: str, paramstyle: str) -> str:
    """A statement written with ``?`` placeholders, in the connection's style."""
    if paramstyle == "qmark":
        return sql
    if paramstyle == "format":
        return sql.replace("%", "%%").replace("?", "%s")
    raise ConfigurationError(f"Unsupported DB-API paramstyle {paramstyle!r}; use a sqlite3 or psycopg connection.")


def mismatch(conn: ExternalConnection, where: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Cannot send jobs through {conn.description}: {why}. Jobs can only share a transaction "
        f"with the application when litequeue's store ({where}) is in the same database; open the "
        "app on that database (on SQLite, LiteQueue(path, share_database=True)), or send the job "
        "outside this block."
    )


def refused(conn: ExternalConnection, what: str) -> ConfigurationError:
    return ConfigurationError(
        f"Cannot send this job through {conn.description}: it is {what}, which the store decides in "
        "its own transaction. Send it outside the enqueue_in() block (Django: delay_on_commit(); "
        "SQLAlchemy: after the commit)."
    )
