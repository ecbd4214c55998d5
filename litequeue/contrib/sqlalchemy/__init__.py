"""SQLAlchemy (2.x): send jobs inside the application's own transaction.

```python
from litequeue.contrib.sqlalchemy import enqueue_in

with Session(engine) as session, session.begin():
    session.add(order)
    with enqueue_in(session):          # or a Connection: with engine.begin() as conn
        send_receipt.delay(order.id)   # written through the session's connection
```

Inside the block, every job this thread sends (``delay``, ``apply_async``, ``send_task``,
``enqueue_many``, ``map``...) to a store in the same database is inserted through the
application's connection: it commits with the application's rows or vanishes with them, and
workers are woken once it has committed. The store must be in the same database: on SQLite the
same file (``LiteQueue(path, share_database=True)``), on PostgreSQL the same database.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from litequeue.errors import DuplicateJob, StoreError
from litequeue.store.external import sending_through

__all__ = ["enqueue_in", "SQLAlchemyConnection"]

_PENDING = "litequeue_after_commit"  # info key: wake-ups waiting for the transaction to commit
_COMMITTED = "litequeue_committed"  # info key: wake-ups of a transaction whose COMMIT is under way


@contextlib.contextmanager
def enqueue_in(target: Session | Connection) -> Iterator[None]:
    """Inside the block, jobs sent from this thread are written through ``target`` (a Session, or a
    Connection), inside its transaction (one is begun if none is open)."""
    if not isinstance(target, (Session, Connection)):
        raise TypeError(f"enqueue_in() takes an SQLAlchemy Session or Connection, not {type(target).__name__}.")
    with sending_through(SQLAlchemyConnection(target)):
        yield


class SQLAlchemyConnection:
    """An SQLAlchemy Session or Connection, as litequeue's store sees it."""

    def __init__(self, target: Session | Connection) -> None:
        self.target = target
        conn = self._connection()
        self.dialect = conn.dialect.name
        self.paramstyle = "qmark" if conn.dialect.paramstyle == "qmark" else "format"
        self.description = f"the SQLAlchemy {type(target).__name__} on {conn.engine.url.render_as_string()}"
        self.checked: set[int] = set()  # stores already found to be in this database

    def _connection(self) -> Connection:
        return self.target.connection() if isinstance(self.target, Session) else self.target

    def execute(self, sql: str, rows: Sequence[tuple]) -> list[tuple]:
        conn = self._connection()
        try:
            result = conn.exec_driver_sql(sql, list(rows) if len(rows) > 1 else rows[0])
            return [tuple(row) for row in result.fetchall()] if result.returns_rows else []
        except DBAPIError as exc:
            text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            if "task_id" in text and ("unique" in text.lower() or "duplicate" in text.lower()):
                raise DuplicateJob(f"{self.description}: a job with this task_id already exists. Give each "
                                   "job its own task_id, or leave task_id out to get a fresh one.") from exc
            raise StoreError(f"{self.description}: {text}") from exc

    def sqlite_path(self) -> str | None:
        for _seq, name, file in self.execute("PRAGMA database_list", [()]):
            if name == "main":
                return file or None
        return None

    def after_commit(self, fn: Callable[[], None]) -> None:
        if isinstance(self.target, Session):
            _watch_session(self.target)
        else:
            _watch_engine(self.target.engine)
        # One wake-up per store, however many jobs the transaction sends (fn: a store's notify).
        self.target.info.setdefault(_PENDING, {})[(id(getattr(fn, "__self__", fn)), fn.__name__)] = fn


# -- wake-ups after the commit -------------------------------------------------------------------
# A Session says when it has committed (after_commit). A Connection only says when it is about to
# (its "commit" event comes before the driver's COMMIT), and SQLAlchemy has no event after it, so
# the engine's dialect is asked to call back once its ``do_commit`` (the driver's COMMIT) has
# returned: the wake-ups go out right after the commit, also for a connection left open and idle
# after ``conn.commit()``. A COMMIT that fails sends none. (Should another library replace
# ``do_commit`` after us, the wake-ups still go out at the connection's next begin or check-in.)

_watched_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_WRAPPED = "_litequeue_wakes_after_commit"  # marks a dialect whose do_commit runs the wake-ups


def _watch_session(session: Session) -> None:
    if session.info.get("litequeue_watched"):
        return
    session.info["litequeue_watched"] = True
    event.listen(session, "after_commit", lambda s: _run(s.info.pop(_PENDING, None)))
    event.listen(session, "after_rollback", lambda s: None if s.in_transaction() else s.info.pop(_PENDING, None))


def _watch_engine(engine: Engine) -> None:
    if engine in _watched_engines:
        return
    _watched_engines.add(engine)
    event.listen(engine, "commit", _committing)
    event.listen(engine, "rollback", lambda conn: conn.info.pop(_PENDING, None))
    event.listen(engine, "begin", lambda conn: _run(conn.info.pop(_COMMITTED, None)))
    event.listen(engine.pool, "checkin", lambda dbapi_conn, record: _run(record.info.pop(_COMMITTED, None)))
    _wake_after_do_commit(engine.dialect)


def _wake_after_do_commit(dialect: Any) -> None:
    """Make ``dialect.do_commit`` (which SQLAlchemy calls with the pooled connection, whose
    ``info`` is the Connection's) send the committed transaction's wake-ups once it returns."""
    if getattr(dialect, _WRAPPED, False):
        return
    commit = dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        info = getattr(dbapi_connection, "info", None)
        try:
            commit(dbapi_connection)
        except BaseException:
            if info is not None:
                info.pop(_COMMITTED, None)  # nothing was committed: no one to wake
            raise
        if info is not None:
            _run(info.pop(_COMMITTED, None))

    dialect.do_commit = do_commit
    setattr(dialect, _WRAPPED, True)


def _committing(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending:
        conn.info.setdefault(_COMMITTED, {}).update(pending)


def _run(wakeups: dict[Any, Callable[[], None]] | None) -> None:
    for fn in (wakeups or {}).values():
        fn()
