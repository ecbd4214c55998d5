"""The PostgreSQL dialect: connecting from a URL, SKIP LOCKED claims, LISTEN/NOTIFY wake-ups,
error translation and reconnection.

Everything else (every statement but the claim's lock clause) is the base store's. The tables
live in the database's default schema, or in their own with ``?schema=name`` in the URL, so they
can sit inside an application's database without touching its tables.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import time
import weakref
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw

from ..errors import (
    ConfigurationError,
    DuplicateJob,
    SchemaTooNew,
    StoreAccessDenied,
    StoreError,
    StoreLocked,
    StoreNotFound,
    StoreUnavailable,
)
from . import external, migrations, postgres_listener
from .base import ErrorGuard, Store
from .leases import LeaseReport
from .postgres_listener import first_line
from .urls import describe_url

DRIVERS = ("psycopg", "psycopg2")  # psycopg 3 first; postgresql+psycopg2:// asks for the other


def load_driver(url: str) -> Any:
    """The driver module a URL asks for (``postgresql+psycopg://``, ``postgresql+psycopg2://``),
    or for plain ``postgresql://`` the first of psycopg 3 and psycopg2 that is installed."""
    scheme = url.split("://", 1)[0]
    wanted = [scheme.split("+", 1)[1]] if "+" in scheme else list(DRIVERS)
    if any(name not in DRIVERS for name in wanted):
        raise ConfigurationError(f"{_safe(url)}: unknown driver {wanted[0]!r}; use postgresql+psycopg:// "
                                 "(psycopg 3), postgresql+psycopg2://, or postgresql:// for whichever is installed.")
    for name in wanted:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ConfigurationError(
        f"{_safe(url)}: the PostgreSQL driver is not installed. Install it with "
        "pip install 'litequeue-jobs[postgres]' (psycopg 3)."
    )

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CONNECT_TIMEOUT = 10  # seconds; a host that does not answer fails instead of hanging
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


@dataclass(frozen=True)
class Target:
    """Where a PostgreSQL store lives, parsed from its URL."""

    host: str
    port: int
    user: str | None
    password: str | None
    dbname: str
    schema: str | None
    extra: dict  # other query parameters, passed to the driver (sslmode, application_name, ...)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}" + (f" (schema {self.schema})" if self.schema else "")

    def connect_params(self) -> dict:
        params: dict[str, Any] = {"host": self.host, "port": self.port, "connect_timeout": _CONNECT_TIMEOUT,
                                  **_KEEPALIVES, **self.extra}
        if self.user:
            params["user"] = self.user
        if self.password is not None:
            params["password"] = self.password
        if self.schema:
            params["options"] = f"-c search_path={self.schema}"
        return params


def parse_url(url: str) -> Target:
    """``postgresql://user[:password]@host[:port]/dbname[?schema=name&sslmode=...]``."""
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:
        raise ConfigurationError(
            f"{_safe(url)}: the port is not a number. Use postgresql://user@host:5432/dbname."
        ) from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise ConfigurationError(
            f"{_safe(url)}: name one database after the host, as in postgresql://user@host:5432/dbname."
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = query.pop("schema", None) or None
    if schema is not None and not _IDENTIFIER.match(schema):
        raise ConfigurationError(
            f"{_safe(url)}: schema={schema!r} is not a plain identifier; use letters, digits and "
            "underscores (at most 63, not starting with a digit)."
        )
    user = unquote(parts.username) if parts.username else None
    return Target(host=parts.hostname or "localhost", port=port, user=user,
                  password=unquote(parts.password) if parts.password is not None else None, dbname=dbname,
                  schema=schema, extra=query)


class PostgresStore(Store):
    """The store in a PostgreSQL database: many workers on many hosts claim concurrently."""

    lock_clause = " FOR UPDATE SKIP LOCKED"
    row_lock = " FOR UPDATE"
    db: _Database

    def __init__(self, url: str, readonly: bool = False) -> None:
        self.driver = load_driver(url)
        self.target = parse_url(url)
        self.channel = "litequeue_" + (self.target.schema or "jobs")
        params = self.target.connect_params()
        if self.driver.__name__ == "psycopg":  # client-side binding, as psycopg2 does it
            params.update(prefer_psycopg3=True, cursor_factory=self.driver.ClientCursor)
        db = _Database(self.target.dbname, **params)
        super().__init__(db, url)
        self._errors = ErrorGuard((pw.PeeweeException, self.driver.Error), self._reraise)
        self.readonly = readonly
        if readonly:  # every transaction of this session, also after a reconnect
            db.session["default_transaction_read_only"] = "on"
        with self.errors():
            db.connect()
            if readonly:
                self._check_readable()
            else:
                self._migrate()
        self.sync_clock()

    def sync_clock(self) -> None:
        """Leases follow the server's clock, so workers whose own clocks disagree never take each
        other's jobs: the offset is measured at open and at every heartbeat (extend_leases),
        never on a claim's path. A server that cannot be asked keeps the last offset."""
        with contextlib.suppress(StoreError, pw.PeeweeException, self.driver.Error):
            with self.errors():
                before = time.time()
                server = float(self.db.execute_sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0])
                after = time.time()
            self.clock_offset = server - (before + after) / 2

    def extend_leases(self, owner: str, lease_seconds: float, job_ids: Collection[int],
                      spare_since: float | None = None) -> LeaseReport:
        self.sync_clock()
        return super().extend_leases(owner, lease_seconds, job_ids, spare_since)

    def _check_readable(self) -> None:
        """A reading session never creates or upgrades the schema: refuse one it cannot read."""
        version = migrations.read_version(self.db)
        if version == 0:
            raise StoreNotFound(f"{self.target.where} holds no litequeue store; check the URL (and its schema=).")
        if version > migrations.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.target.where} was written by a newer litequeue (schema version {version}). Upgrade "
                "litequeue: pip install -U litequeue-jobs.")
        if version < migrations.SCHEMA_VERSION:
            raise StoreError(f"{self.target.where} was written by an older litequeue (schema version {version}); "
                             "start a worker on it once (it upgrades the schema), then read it again.")

    def _migrate(self) -> None:
        if migrations.read_version(self.db) == migrations.SCHEMA_VERSION:
            return
        with self.write():
            # One process at a time creates or upgrades the schema; the others wait, then see it done.
            self.db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", ("litequeue:" + self.channel,))
            if self.target.schema:
                self.db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.target.schema}"')
            current = migrations.read_version(self.db)
            if current > migrations.SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.target.where} was written by a newer litequeue (schema version {current}; this "
                    f"litequeue knows up to {migrations.SCHEMA_VERSION}). Upgrade litequeue: "
                    "pip install -U litequeue-jobs."
                )
            if current < migrations.SCHEMA_VERSION:
                migrations.upgrade(self.db, self.models, current)

    # -- the dialect ----------------------------------------------------------------------------

    def relax_durability(self) -> None:
        # Also after a reconnect: the setting is reapplied to every new connection.
        self.db.session["synchronous_commit"] = "off"
        with self.errors():
            self.db.execute_sql("SET synchronous_commit = off")

    @contextlib.contextmanager
    def unsynced(self) -> Iterator[None]:
        level = self.db.execute_sql("SHOW synchronous_commit").fetchone()[0]
        self.db.execute_sql("SET synchronous_commit = off")
        try:
            yield
        finally:
            self.db.execute_sql("SELECT set_config('synchronous_commit', %s, false)", (level,))

    def body_contains(self) -> str:
        return "position(? in body) > 0"

    def sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    def notify(self) -> None:
        """NOTIFY every listening worker on any host. Never raises: a lost wake-up costs one poll."""
        try:
            self.db.execute_sql("SELECT pg_notify(%s, '')", (self.channel,))
        except (pw.PeeweeException, self.driver.Error):
            self._drop_broken_connection()

    def check_same_database(self, conn: external.ExternalConnection) -> None:
        if conn.dialect != "postgresql":
            raise external.mismatch(conn, self.target.where, f"it is a {conn.dialect} connection")
        table = f'"{self.target.schema}".lq_jobs' if self.target.schema else "lq_jobs"
        probe = "SELECT current_database(), inet_server_port(), to_regclass(?) IS NOT NULL"
        [(dbname, port, has_table)] = conn.execute(external.in_style(probe, conn.paramstyle), [(table,)])
        with self.errors():
            [(ours, our_port)] = self.db.execute_sql("SELECT current_database(), inet_server_port()").fetchall()
        if (dbname, port) != (ours, our_port) or not has_table:
            raise external.mismatch(conn, self.target.where, f"it is connected to the database {dbname}")

    def external_insert_sql(self) -> str:
        # The application's connection may not have the store's search_path.
        schema = self.target.schema
        return super().external_insert_sql().replace("INTO lq_jobs", f'INTO "{schema}".lq_jobs') if schema else \
            super().external_insert_sql()

    def wake_through(self, conn: external.ExternalConnection) -> None:
        # NOTIFY is transactional: the server delivers it when the transaction commits, drops it on rollback.
        conn.execute(external.in_style("SELECT pg_notify(?, '')", conn.paramstyle), [(self.channel,)])

    def listener(self, name: str) -> postgres_listener.Listener | None:
        if not postgres_listener.supported():
            return None  # no selector that can be waited on inside another here: workers poll
        with self.errors():
            return postgres_listener.Listener(self._listener_connection, self.channel, (self.driver.Error,),
                                              timeout=_CONNECT_TIMEOUT)

    def _listener_connection(self, async_: bool) -> Any:
        """A new connection of a worker's listener (blocking, or asynchronous: see psycopg2)."""
        params = {"dbname": self.target.dbname, **self.target.connect_params()}
        if self.driver.__name__ == "psycopg":
            from .postgres_pq import Pq3Connection

            return Pq3Connection(params, async_)
        return self.driver.connect(async_=async_, **params)

    def _reraise(self, exc: BaseException) -> None:
        if isinstance(exc, (pw.IntegrityError, pw.DataError)):
            if "lq_jobs_task_id" in str(exc):
                raise DuplicateJob(f"{self.target.where}: a job with this task_id already exists. Give each "
                                   "job its own task_id, or leave task_id out to get a fresh one.") from exc
            raise StoreError(f"{self.target.where}: {first_line(exc)}") from exc
        self._drop_broken_connection()
        raise translate(exc, self.target) from exc

    def _drop_broken_connection(self) -> None:
        """Forget a connection the server closed, so the next call opens a new one."""
        if self.db.is_closed() or self.db.in_transaction():
            return
        conn = self.db.connection()
        if conn.closed:
            with contextlib.suppress(Exception):
                self.db.close()


class _Database(pw.PostgresqlDatabase):
    """peewee's database, with session settings reapplied to every new connection, and each
    thread's connection closed when the thread ends (peewee keeps one per thread and would leave
    it to the garbage collector, which psycopg 3 reports as a ResourceWarning)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: dict[str, str] = {}
        self._closers = threading.local()
        # Also when the database object itself is dropped unclosed (the garbage collector may
        # free a connection before its closer), and at exit: every connection this process opened.
        self._opened: list[Any] = []
        weakref.finalize(self, _close_all, self._opened, os.getpid())

    def _connect(self) -> Any:
        conn = super()._connect()  # type: ignore[misc]  # (peewee has no type stubs)
        self._closers.closer = _Closer(conn)
        self._opened[:] = [c for c in self._opened if not c.closed]
        self._opened.append(conn)
        return conn

    def _close(self, conn: Any) -> None:
        closer = getattr(self._closers, "closer", None)
        if closer is not None:
            closer.conn = None  # closed here, by peewee
        super()._close(conn)  # type: ignore[misc]

    def _initialize_connection(self, conn: Any) -> None:
        with conn.cursor() as cursor:
            for name, value in self.session.items():
                cursor.execute("SELECT set_config(%s, %s, false)", (name, value))


def _close_all(connections: list[Any], pid: int) -> None:
    """Close the connections a process opened (never a forked child's copies: closing one there
    would end the parent's session on the server)."""
    if os.getpid() != pid:
        return
    for conn in connections:
        with contextlib.suppress(Exception):
            conn.close()


class _Closer:
    """Closes a thread's connection when the thread ends (its thread-local value goes)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __del__(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


def translate(exc: BaseException, target: Target) -> StoreError:
    """The StoreError for a driver error: one line naming the server and the fix."""
    text = first_line(exc)
    low = text.lower()
    where = target.where
    if "does not exist" in low and "database" in low:
        return StoreNotFound(
            f"{where}: the database {target.dbname} does not exist. Create it (createdb -h {target.host} "
            f"-p {target.port} {target.dbname}), or fix the database name in the URL."
        )
    if "password authentication failed" in low or "no password supplied" in low or (
            "role" in low and "does not exist" in low) or "no pg_hba.conf entry" in low:
        return StoreAccessDenied(
            f"{where}: the server refused the login ({text}). Fix the user and password in the URL "
            "(postgresql://user:password@host/dbname), or the server's pg_hba.conf."
        )
    if "invalid connection option" in low or "invalid dsn" in low:
        return StoreError(
            f"{where}: {text}. Query parameters other than schema go to the driver: use libpq's connection "
            "parameters (sslmode, application_name, connect_timeout, ...), or remove it from the URL."
        )
    if "permission denied" in low:
        return StoreAccessDenied(f"{where}: {text}. Grant the user the privilege, or use another schema.")
    if "deadlock" in low or "could not obtain lock" in low or "lock timeout" in low:
        return StoreLocked(f"{where}: {text}. Another transaction held the rows; try again.")
    if any(s in low for s in ("connection refused", "could not connect", "could not translate host",
                              "timeout expired", "server closed the connection", "connection already closed",
                              "terminating connection", "the database system is", "ssl syscall",
                              "could not receive data", "could not send data", "no connection to the server")):
        return StoreUnavailable(
            f"{where}: cannot reach PostgreSQL ({text}). Check that the server is running and that the "
            "host and port in the URL are right; workers reconnect by themselves."
        )
    return StoreError(f"{where}: {text}")


def _safe(url: str) -> str:
    return describe_url(url)
