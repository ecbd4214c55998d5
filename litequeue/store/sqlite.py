"""The SQLite dialect: opening the file, pragmas, BEGIN IMMEDIATE taken fairly, error
translation and local wake-ups.

Opening is careful: the file's hazards (not ours, not a regular file, deleted or replaced while
open) are checked by ``sqlite_file``, before anything is written to it.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import peewee as pw

from ..errors import SchemaTooNew, SelfDeadlock, StoreError
from . import external, migrations, selflock, sqlite_file
from .base import ErrorGuard, Store
from .sqlite_errors import original, translate
from .sqlite_file import FileWatch
from .wakeup import Wakeup
from .wal_sync import WalSync


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path``, ``sqlite:////abs/path`` or a plain path -> a filesystem path."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        path = path[1:] if path.startswith("/") else path
        return path
    return url


_FULL = 2  # PRAGMA synchronous = FULL
_ATTEMPT_WAIT = 0.01  # seconds SQLite's own busy handler waits per attempt at the write lock


class _Closer:
    """Closes a thread's connection when the thread ends or its database object is dropped
    (peewee would leave it to the garbage collector); kept in a thread-local."""

    __slots__ = ("conn", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn: sqlite3.Connection | None = conn
        self.pid = os.getpid()

    def __del__(self) -> None:
        if self.conn is not None and os.getpid() != self.pid:
            # A forked child dropping a connection of a thread the fork left behind: closing or freeing
            # it takes its mutex, which that thread may have held at the fork: the child would hang.
            _INHERITED.append(self.conn)
        elif self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


_INHERITED: list[sqlite3.Connection] = []  # connections a forked child must never close (see _Closer)


class FairLockDatabase(pw.SqliteDatabase):
    """Takes the write lock (BEGIN IMMEDIATE) by retrying at short, jittered intervals until
    ``lock_wait`` seconds have passed.

    SQLite's own busy handler sleeps longer the longer it has waited (up to 100 ms a try), so
    under many writers the oldest waiter keeps losing to fresh ones and can starve for seconds:
    long enough for a worker's heartbeat to miss its lease. Every write goes through ``begin``,
    or is one statement outside a transaction, retried the same way by ``execute_sql`` (a statement
    that could not take the lock changed nothing, so running it again is safe).
    """

    def __init__(self, *args: Any, lock_wait: float, **kwargs: Any) -> None:
        self.lock_wait = lock_wait
        self.writes = threading.local()  # .depth: WriteTransactions open on this thread
        super().__init__(*args, **kwargs)

    def check_joinable(self) -> None:
        """Refuse to join the transaction open on this thread's connection unless it is the
        application's (``app.transaction()``) or one of litequeue's own writes: work joined to a
        transaction nobody commits would be lost."""
        if not self.in_transaction() and not getattr(self.writes, "depth", 0):
            raise StoreError(
                f"{self.database}: a transaction is open on this connection that litequeue did not start "
                "(a BEGIN run on it directly?). Commit or roll it back, or use app.transaction().")

    def begin(self, lock_type: str | None = None) -> None:
        return self.fairly(super().begin, lock_type)

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()  # type: ignore[misc]  # (peewee has no type stubs)
        self.writes.closer = _Closer(conn)
        return conn

    def _close(self, conn: sqlite3.Connection) -> None:
        closer = getattr(self.writes, "closer", None)
        if closer is not None:
            closer.conn = None  # closed here, by peewee
        super()._close(conn)  # type: ignore[misc]

    def execute_sql(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.writes, "depth", 0) or self.in_transaction():  # the write lock is held already
            return super().execute_sql(sql, params, *args, **kwargs)
        return self.fairly(super().execute_sql, sql, params, *args, **kwargs)

    def refuse_self_deadlock(self, exc: BaseException) -> None:
        """Raise SelfDeadlock when the lock is held by this very thread through another
        connection: waiting for it would never end."""
        own = getattr(self._state, "conn", None)  # type: ignore[attr-defined]  # peewee's per-thread state
        if selflock.held_by_this_thread(self.database, own):
            raise SelfDeadlock(
                f"{self.database}: this thread holds the write lock through another connection (an open "
                "transaction of the application's on the same file, such as SQLAlchemy's engine.begin() or "
                "a Session, or a sqlite3 connection), so litequeue would wait for itself. Send the job "
                "through that transaction (with litequeue.contrib.sqlalchemy.enqueue_in(session_or_connection), "
                "or app.transaction()), or after it commits."
            ) from exc

    def fairly(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = None
        while True:
            try:
                return fn(*args, **kwargs)
            except (pw.OperationalError, sqlite3.OperationalError) as exc:
                if "locked" not in str(exc).lower():
                    raise
                if deadline is None:
                    self.refuse_self_deadlock(exc)
                    deadline = time.monotonic() + self.lock_wait
                if time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.0002, 0.002))


class WriteTransaction:
    """``SqliteStore.write()``: BEGIN IMMEDIATE ... COMMIT on the driver's connection, taking the
    write lock fairly; a SAVEPOINT when a transaction is open already (``app.transaction()``, or
    a write inside a write). Lighter than peewee's ``atomic()``, which every claim and every
    batch of results would otherwise pay for."""

    __slots__ = ("db", "conn", "savepoint")

    def __init__(self, db: FairLockDatabase) -> None:
        self.db = db
        self.savepoint: str | None = None

    def __enter__(self) -> WriteTransaction:
        conn = self.conn = self.db.connection()
        if conn.in_transaction:
            self.db.check_joinable()
            self.savepoint = f"lq_{id(self):x}"
            conn.execute(f"SAVEPOINT {self.savepoint}")
        else:
            self.savepoint = None
            self.db.fairly(conn.execute, "BEGIN IMMEDIATE")
        self.db.writes.depth = getattr(self.db.writes, "depth", 0) + 1
        return self

    @property
    def outermost(self) -> bool:
        """Whether this write commits by itself (not a savepoint of an enclosing transaction)."""
        return self.savepoint is None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.db.writes.depth -= 1
        if kind is None:
            try:
                self.conn.execute(f"RELEASE {self.savepoint}" if self.savepoint else "COMMIT")
                return
            except BaseException:
                self._roll_back()
                raise
        self._roll_back()

    def _roll_back(self) -> None:
        conn = self.conn
        if not conn.in_transaction:  # SQLite rolled back by itself (an I/O error, a full disk)
            return
        with contextlib.suppress(sqlite3.Error):  # the error that brought us here is the one to report
            if self.savepoint:
                conn.execute(f"ROLLBACK TO {self.savepoint}")
                conn.execute(f"RELEASE {self.savepoint}")
            else:
                conn.execute("ROLLBACK")


def _uri(path: str, readonly: bool, must_exist: bool) -> str:
    """What peewee opens: the plain path (created if missing), or a URI that never creates it."""
    if readonly:
        return f"file:{sqlite_file.uri_quote(path)}?mode=ro"
    return f"file:{sqlite_file.uri_quote(path)}?mode=rw" if must_exist else path


class SqliteStore(Store):
    """The store over one SQLite file in WAL mode."""

    db: FairLockDatabase

    def __init__(self, path: str, synchronous: str = "full", busy_timeout: float = 5.0,
                 share_database: bool = False, readonly: bool = False, must_exist: bool = False) -> None:
        self.path = os.path.abspath(path)
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        self._watch: FileWatch | None = None  # what check_file expects (a store open for writing)
        if readonly:
            sqlite_file.check_for_reading(self.path)
        else:
            if must_exist:
                sqlite_file.check_still_there(self.path)
            sqlite_file.check_for_writing(self.path, share_database)
        pragmas: dict[str, Any] = {"busy_timeout": int(_ATTEMPT_WAIT * 1000), "foreign_keys": 0}
        if not readonly:
            pragmas.update(journal_mode="wal", synchronous=synchronous)
        db = FairLockDatabase(
            _uri(self.path, readonly, must_exist),
            lock_wait=busy_timeout,
            timeout=_ATTEMPT_WAIT,
            lock_type="IMMEDIATE",
            check_same_thread=False,  # see _Closer
            uri=readonly or must_exist,
            pragmas=pragmas,
        )
        super().__init__(db, "sqlite:///" + self.path)
        self._errors = ErrorGuard((pw.OperationalError, pw.DatabaseError, sqlite3.Error), self._reraise)
        self.wakeup = Wakeup(self.path)
        self.wal_sync = WalSync(self.path)
        # At FULL (the default), durable enqueues commit at NORMAL, wake, then sync (_insert_durably);
        # a worker's relaxed connections, and the levels a user chose, commit as they are.
        self._wake_before_sync = not readonly and str(synchronous).lower() in ("full", "2")
        self.notify = self.wakeup.notify  # type: ignore[method-assign]  # Store.notify, one call less per enqueue
        with self.errors():
            if readonly:
                self._connect_readonly()
            else:
                self._set_up()
                wal = self.db.execute_sql("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
                self._watch = FileWatch(self.path, wal)
                sqlite_file.make_private(self.path + "-wal", self.path + "-shm")

    def check_file(self) -> None:
        if self._watch is not None:
            self._watch.check()

    def _connect(self) -> None:
        """Connect and set the pragmas, retrying while another process holds the lock (two
        processes opening a new file at once both switch it to WAL, which takes the lock)."""
        def attempt() -> None:
            try:
                self.db.connect(reuse_if_open=True)
            except BaseException:
                if not self.db.is_closed():
                    self.db.close()
                raise

        self.db.fairly(attempt)

    def _connect_readonly(self) -> None:
        """``mode=ro``; when that cannot open the file (no -shm, and no right to create one) and no
        writer has it open (no -wal), read it as immutable, which needs no -shm."""
        try:
            self.db.connect()
            self.db.execute_sql("SELECT value FROM lq_meta LIMIT 1").fetchall()
        except (pw.OperationalError, sqlite3.OperationalError):
            if os.path.exists(self.path + "-wal"):
                raise
            if not self.db.is_closed():
                self.db.close()
            self.db.database = f"file:{sqlite_file.uri_quote(self.path)}?immutable=1"
            self.db.connect()

    def _set_up(self) -> None:
        """Connect, switch the file to WAL and bring its tables up to date: the first opening in a
        process may need the write lock, which an application's open transaction on this file holds."""
        try:
            self._connect()
            self._migrate()
        except SelfDeadlock as exc:
            raise SelfDeadlock(
                f"{self.path}: opening litequeue's store here needs the write lock (to set the file up: WAL "
                "mode, litequeue's tables), and this thread holds it in an open transaction of the "
                "application's on the same file. Open the store once before such transactions, at start-up "
                "(touch app.store, e.g. right after metadata.create_all()); enqueue_in() then writes jobs "
                "through the application's transaction."
            ) from exc

    def _migrate(self) -> None:
        current = migrations.read_version(self.db)
        if current == migrations.SCHEMA_VERSION:
            return
        with self.write():
            current = migrations.read_version(self.db)  # another process may have just done it
            if current > migrations.SCHEMA_VERSION:
                raise SchemaTooNew(sqlite_file.too_new(self.path, current))
            if current < migrations.SCHEMA_VERSION:
                migrations.upgrade(self.db, self.models, current)

    def vacuum(self) -> None:
        with self.errors():
            self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.execute_sql("VACUUM")
            self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def write(self) -> WriteTransaction:  # type: ignore[override]
        return WriteTransaction(self.db)

    def _committed(self, txn: WriteTransaction) -> bool:
        return txn.outermost

    def relax_durability(self) -> None:
        self._wake_before_sync = False
        with self.errors():
            self.db.execute_sql("PRAGMA synchronous = NORMAL")

    def index_hint(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def _version(self) -> str | None:
        # Every claim reads it: straight on the driver's connection, a third of peewee's cost.
        row = self.db.connection().execute("SELECT value FROM lq_meta WHERE key = 'limits'").fetchone()
        return row[0] if row else None

    def execute_alone(self, sql: str, params: tuple) -> bool:
        # Straight on the driver's connection (the path of every single enqueue); outside a
        # transaction it takes the write lock as fairly as a BEGIN does.
        conn = self.db.connection()
        if conn.in_transaction:
            self.db.check_joinable()
            conn.execute(sql, params)
            return False
        self.db.fairly(conn.execute, sql, params)
        return True

    @contextlib.contextmanager
    def unsynced(self) -> Iterator[None]:
        # In WAL mode, synchronous=OFF commits write the WAL without fsync: safe against a process
        # crash, not a power cut. They must not checkpoint either: a checkpoint at synchronous=OFF
        # copies earlier, durable commits into the database file without syncing it, and the WAL
        # that held them is then reused, so a power cut could lose those too. The next durable
        # commit checkpoints instead. The connection's own settings are restored after. (Straight
        # on the driver's connection: these pragmas take no lock.)
        with self.errors():
            conn = self.db.connection()
        if conn.in_transaction:  # part of the caller's transaction: it commits as that one does
            yield
            return
        with self.errors():
            level = conn.execute("PRAGMA synchronous").fetchone()[0]
            pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            with self.errors():
                conn.execute(f"PRAGMA synchronous = {int(level)}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def _insert_durably(self, rows: list[tuple]) -> None:
        # At synchronous=FULL, commit without waiting for the disk, wake the workers, then sync
        # the WAL: the job starts while the disk works, and this returns once it is on disk.
        with self.errors():
            conn = self.db.connection()
            if conn.in_transaction or not self._wake_before_sync:  # joins the caller's; or another level
                return super()._insert_durably(rows)
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._insert(rows)
            finally:
                conn.execute(f"PRAGMA synchronous = {_FULL}")
        self.notify()
        self.wal_sync.sync()

    def listener(self, name: str) -> Any:
        return self.wakeup.listen(name)

    def check_same_database(self, conn: external.ExternalConnection) -> None:
        theirs = conn.sqlite_path() if conn.dialect == "sqlite" else None
        if theirs is None or os.path.realpath(theirs) != os.path.realpath(self.path):
            raise external.mismatch(conn, self.path, f"it is connected to {theirs or conn.dialect}, not {self.path}")

    def close(self) -> None:
        self.wakeup.close()
        self.wal_sync.close()
        super().close()

    def _reraise(self, exc: BaseException) -> None:
        exc = original(exc)
        if self.readonly and "readonly" in str(exc).lower():
            raise StoreError(f"{self.path} was opened read-only (for reading); open it without readonly "
                             "to change it.") from exc
        raise translate(exc, self.path, self.busy_timeout) from exc
