"""The store interface: the dozen operations everything above the store is built on.

Each operation says what it promises and what it does atomically. Serialization and routing stay
above this line; only ``store/`` imports peewee. Statements are written once with ``?``
placeholders; a dialect subclass supplies what differs (locking clause, error translation,
wake-ups).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import peewee as pw

from ..errors import StoreError
from . import external
from .admin import AdminStore
from .claims import ClaimStore
from .flow import FlowStore
from .groups import GroupStore
from .job_rows import INSERT_JOB, job_row
from .join_results import KnownResults
from .leases import LeaseStore
from .lineage import LineageStore
from .models import bind_models
from .monitor import MonitorStore
from .outcomes import OutcomeStore
from .records import NewChain, NewGroup, NewJob
from .remote_control import RemoteControlStore
from .schedules import ScheduleStore


class ErrorGuard:
    """What ``Store.errors()`` returns: turns driver errors of the ``kinds`` given into
    litequeue's StoreErrors through ``reraise`` (which raises). A class rather than a generator,
    because every store operation enters one."""

    __slots__ = ("kinds", "reraise")

    def __init__(self, kinds: tuple[type[BaseException], ...], reraise: Callable[[BaseException], None]) -> None:
        self.kinds, self.reraise = kinds, reraise

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if kind is not None and issubclass(kind, self.kinds):
            self.reraise(exc)  # type: ignore[arg-type]


class Store(ClaimStore, OutcomeStore, LeaseStore, LineageStore, FlowStore, AdminStore, ScheduleStore, MonitorStore,
            GroupStore, RemoteControlStore):
    """A job store over one SQL database (SQLite here; PostgreSQL through a subclass)."""

    lock_clause = ""  # appended to the claim's inner SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED)
    row_lock = ""  # appended to a SELECT whose rows the transaction must hold (PostgreSQL: FOR UPDATE)

    def index_hint(self, index: str) -> str:
        """Text after ``FROM lq_jobs`` that pins the claim to its index (SQLite: INDEXED BY)."""
        return ""

    def __init__(self, db: pw.Database, url: str) -> None:
        self.db = db
        self.url = url
        self.known_results = KnownResults()
        self._insert_sql = self.sql(INSERT_JOB)

    @functools.cached_property
    def models(self) -> SimpleNamespace:
        """The tables as peewee models bound to this store's database: made when first needed (a
        producer that only sends jobs never needs them, and making them is a third of opening)."""
        return bind_models(self.db)

    # -- what a dialect provides ---------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """The statement in this dialect's placeholder style."""
        return statement

    _errors = ErrorGuard((), lambda exc: None)  # a dialect sets its own

    def errors(self) -> ErrorGuard:
        """Translate driver errors into litequeue's StoreError tree (keeping the cause)."""
        return self._errors

    def notify(self) -> None:
        """Tell idle workers that new jobs are there (after commit)."""

    def listener(self, name: str) -> Any:
        """Something with ``fileno()``, ``drain()`` (True: look for jobs), ``tend()`` and
        ``close()`` that becomes readable when ``notify()`` is called by any producer; None if
        the dialect cannot wake workers (they poll). The worker calls ``tend()`` on every turn
        of its loop and by the monotonic time ``tend_at`` (None: nothing due); a listener
        reconnects there. It may have ``heard_from``: the monotonic time from which every
        producer wakes it (until then the worker also looks for jobs by itself)."""
        return None

    def execute_alone(self, sql: str, params: tuple) -> bool:
        """Run one statement: its own transaction (then True: it is committed), or part of the
        caller's (False)."""
        self.db.execute_sql(sql, params)
        return not self.db.in_transaction()

    def write(self) -> pw._atomic:
        """A write transaction that takes the write lock up front."""
        return self.db.atomic()

    def relax_durability(self) -> None:
        """Let this connection's commits skip waiting for the disk (a worker's claims, acks and
        heartbeats): a power cut may undo the last few, which at-least-once delivery absorbs
        (an undone claim is claimed again, an undone ack runs the job again). Producers keep
        full durability."""

    clock_offset = 0.0  # seconds the lease clock is ahead of this process's clock

    def lease_clock(self) -> float:
        """Now, on the clock every lease of this store follows: this process's on SQLite (whose
        users must keep their machines' clocks in step), the server's on PostgreSQL."""
        return time.time() + self.clock_offset

    def check_file(self) -> None:
        """Raise StoreFileChanged if the database's files were deleted or replaced under this
        process (SQLite; a server has no such hazard). Cheap: a worker calls it every heartbeat."""

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[pw.Database]:
        """The application's own transaction, shared with litequeue: jobs enqueued inside it (on
        this thread) are stored when it commits and vanish when it rolls back, and workers are
        woken only after the commit. Yields the peewee database, so the application's own
        statements (``db.execute_sql``, models bound to it) join the same transaction. Nests."""
        txn = self.db.atomic()  # peewee's own: it runs the wake-ups registered with after_commit
        with self.errors():
            txn.__enter__()
        try:
            yield self.db
        except BaseException as exc:
            try:
                with self.errors():
                    txn.__exit__(type(exc), exc, exc.__traceback__)
            except StoreError:
                if not isinstance(exc, StoreError):
                    raise
                # The database had rolled back by itself (it does after an I/O error or a full
                # disk), so the ROLLBACK failed: the error that caused it is the one to report.
            raise
        with self.errors():
            txn.__exit__(None, None, None)

    # -- producers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def unsynced(self) -> Iterator[None]:
        """Commits inside skip waiting for the disk (transient jobs): a power cut may lose them,
        a process crash does not."""
        yield

    def enqueue(self, jobs: Sequence[NewJob], groups: Sequence[NewGroup] = (),
                chains: Sequence[NewChain] = ()) -> dict[str, str]:
        """Insert ``jobs`` (and the ``groups`` and ``chains`` of a workflow) in one transaction:
        all of them are stored, or none. Wakes workers after the commit. A batch of transient
        jobs only (``durable=False``) commits without waiting for the disk; a batch holding any
        durable job commits durably.

        Returns {task_id: id of the job already there} for each unique job that was a duplicate
        (and so was not stored); see FlowStore.enqueue_flow."""
        now = time.time()
        outside = external.current()
        if groups or chains:  # a workflow: its groups, chains and jobs in one write transaction
            if outside is not None:
                raise external.refused(outside, "a workflow (a chain, group or chord)")
            with self.errors():
                with self.write() as txn:
                    self._add_groups(groups, now)
                    self._add_chains(chains, now)
                    duplicates = self.insert_jobs(jobs, now)
                committed = self._committed(txn)
            self._notify_after(committed)
            return duplicates
        if jobs[0].flow is not None if len(jobs) == 1 else any(job.flow is not None for job in jobs):
            if outside is not None:
                raise external.refused(outside, "unique, or rate- or concurrency-limited")
            return self.enqueue_flow(jobs, now)
        rows = [job_row(jobs[0], now)] if len(jobs) == 1 else [job_row(job, now) for job in jobs]
        if outside is not None:  # inside the application's transaction, through its connection
            self.enqueue_through(outside, rows)
            return {}
        if jobs[0].durable if len(jobs) == 1 else any(job.durable for job in jobs):
            self._insert_durably(rows)
            return {}
        with self.errors():
            with self.unsynced():
                committed = self._insert(rows)
        self._notify_after(committed)
        return {}

    def _insert_durably(self, rows: list[tuple]) -> None:
        """Write the rows durably and wake workers once they are committed (a dialect may wake
        them before the commit reaches the disk, returning only once it has: store/wal_sync.py)."""
        with self.errors():
            committed = self._insert(rows)
        self._notify_after(committed)

    def _notify_after(self, committed: bool) -> None:
        if committed:
            self.notify()
        else:  # inside app.transaction(): once it commits
            self.db.after_commit(self.notify)

    def enqueue_through(self, conn: external.ExternalConnection, rows: list[tuple]) -> None:
        """Insert the rows through the application's connection ``conn``, in its transaction;
        workers are woken once it commits."""
        if id(self) not in conn.checked:
            self.check_same_database(conn)
            conn.checked.add(id(self))
        conn.execute(external.in_style(self.external_insert_sql(), conn.paramstyle), rows)
        self.wake_through(conn)

    def check_same_database(self, conn: external.ExternalConnection) -> None:
        """Raise ConfigurationError unless ``conn`` is connected to this store's database."""
        raise external.mismatch(conn, self.url, "this store cannot share a transaction")

    def external_insert_sql(self) -> str:
        """The INSERT of a job (``?`` placeholders) as another connection to this database runs it."""
        return INSERT_JOB

    def wake_through(self, conn: external.ExternalConnection) -> None:
        """Wake workers once the transaction of ``conn`` commits."""
        conn.after_commit(self.notify)

    def _insert(self, rows: list[tuple]) -> bool:
        """Write the rows; True when they are committed now, False when they joined the
        caller's transaction."""
        if len(rows) == 1:  # one statement is its own transaction (or joins the caller's)
            return self.execute_alone(self._insert_sql, rows[0])
        with self.write() as txn:
            self.db.cursor().executemany(self._insert_sql, rows)
        return self._committed(txn)

    def _insert_rows(self, jobs: Sequence[NewJob], now: float) -> None:
        """Insert jobs in the caller's transaction (a unique one already there is left out)."""
        self.insert_jobs(jobs, now)

    def _committed(self, txn: Any) -> bool:
        """Whether the write transaction ``txn`` (just left) committed, rather than being a
        savepoint of the caller's transaction."""
        return not self.db.in_transaction()
