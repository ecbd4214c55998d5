"""The store interface: the dozen operations everything above the store is built on.

Each operation says what it promises and what it does atomically. Serialization and routing stay
above this line; only ``store/`` imports peewee. Statements are written once with ``?``
placeholders; a dialect subclass supplies what differs (locking clause, error translation,
wake-ups).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, NamedTuple

import peewee as pw

from .. import states
from ..errors import StoreError
from . import external
from .admin import AdminStore
from .claims import ClaimRequest, ClaimStore
from .flow import FlowStore
from .groups import GroupStore
from .models import bind_models
from .monitor import MonitorStore
from .records import FollowUp, Job, NewChain, NewGroup, NewJob, Outcome, with_attempt
from .schedules import ScheduleStore

_INSERT = (
    "INSERT INTO lq_jobs (task_id, task, queue, routing_key, priority, state, body, content_type, "
    "eta, wait_until, due_at, expires, created_at, attempts, max_retries, acks_late, ignore_result, "
    "durable, options, unique_key, unique_until, flow_key, group_id, group_index) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Completion is fenced on (job, attempt, owner). A job put back after its lease expired but not
# claimed again (same attempt number, no owner) still takes its late outcome: no other attempt
# owns it, and running it again would only repeat work that is done. (A job claimed again and then
# requeued by Reject gets that attempt number back, and so takes a late outcome too, for the
# same reason.)
_FENCE = "((lease_owner = ? AND state IN ('RESERVED', 'STARTED')) OR (lease_owner IS NULL AND state = 'QUEUED'))"
_BEGAN = ("UPDATE lq_jobs SET state = 'STARTED', started_at = ? "
          "WHERE id = ? AND attempts = ? AND lease_owner = ? AND state = 'RESERVED'")
_FINISH = (
    "UPDATE lq_jobs SET state = ?, result = ?, result_type = ?, exc_type = ?, exc_message = ?, "
    "traceback = ?, custom_state = NULL, meta = NULL, history = COALESCE(?, history), "
    "eta = COALESCE(?, eta), wait_until = ?, "
    "due_at = COALESCE(?, due_at), started_at = COALESCE(?, started_at), "
    "done_at = ?, attempts = attempts - ?, lease_owner = NULL, lease_until = NULL "
    "WHERE id = ? AND attempts = ? AND " + _FENCE
)
_DELETE_FENCED = "DELETE FROM lq_jobs WHERE id = ? AND attempts = ? AND " + _FENCE
_LOST = "litequeue.errors.WorkerLostError"
# A lost job runs again unless it acknowledged early (acks_late off) or used up its retries.
_LOST_FAILS = "(acks_late = ? OR (max_retries IS NOT NULL AND attempts > max_retries))"


class LeaseReport(NamedTuple):
    """What ``extend_leases`` found: {held job id: revoke requested}, and the ids of rows leased
    to the owner that it no longer held (given up, to be put back)."""

    held: dict[int, bool]
    given_up: list[int]


class _SomeFenced(Exception):
    """A batch of outcomes held one that its fence refused (the batch is then rolled back)."""


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


class Store(ClaimStore, FlowStore, AdminStore, ScheduleStore, MonitorStore, GroupStore):
    """A job store over one SQL database (SQLite here; PostgreSQL through a subclass)."""

    lock_clause = ""  # appended to the claim's inner SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED)
    row_lock = ""  # appended to a SELECT whose rows the transaction must hold (PostgreSQL: FOR UPDATE)

    def index_hint(self, index: str) -> str:
        """Text after ``FROM lq_jobs`` that pins the claim to its index (SQLite: INDEXED BY)."""
        return ""

    def __init__(self, db: pw.Database, url: str) -> None:
        self.db = db
        self.url = url
        self.models = bind_models(db)
        self._insert_sql = self.sql(_INSERT)

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
        rows = [_insert_row(jobs[0], now)] if len(jobs) == 1 else [_insert_row(job, now) for job in jobs]
        if outside is not None:  # inside the application's transaction, through its connection
            self.enqueue_through(outside, rows)
            return {}
        with self.errors():
            if jobs[0].durable if len(jobs) == 1 else any(job.durable for job in jobs):
                committed = self._insert(rows)
            else:
                with self.unsynced():
                    committed = self._insert(rows)
        self._notify_after(committed)
        return {}

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
        return _INSERT

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

    # -- workers -------------------------------------------------------------------------------

    def finish(self, owner: str, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Record outcomes in one transaction, each fenced on (job id, attempt, owner): a worker
        that lost its lease changes nothing. Returns the outcomes that were applied."""
        return self.finish_and_claim(owner, outcomes, ClaimRequest(None, (), 0, 0.0))[0]

    def finish_and_claim(self, owner: str, outcomes: Sequence[Outcome], claim: ClaimRequest,
                         began: Sequence[tuple[int, int, float]] = ()) -> tuple[list[Outcome], list[Job]]:
        """``finish(outcomes)`` and then ``claim(**claim)``, in one transaction (one commit for a
        worker's results and its next jobs). ``began`` marks RESERVED jobs that a child has begun
        (job id, attempt, when) as STARTED in the same transaction: a job that begins and ends
        between two commits goes from RESERVED to its outcome with no write of its own.
        Returns (outcomes applied, jobs claimed).

        What an applied outcome sets off (``Outcome.then``: a chain's next step, links,
        errbacks, a chord's join step) is written in the same transaction, before the claim, so
        a chain's next step can be claimed by this very worker; an outcome its fence refuses
        sets off nothing. A chord whose last member this is enqueues its callback here."""
        now = time.time()
        marks = [(when, job_id, attempt, owner) for job_id, attempt, when in began]
        batches = (  # built before the write lock is taken
            (_FINISH, [_finish_row(o, owner, now) for o in outcomes if o.keep]),
            (_DELETE_FENCED, [(o.job_id, o.attempt, owner) for o in outcomes if not o.keep]),
        )
        with self.errors():
            try:
                with self.write():
                    self._mark_began(marks)
                    self._finish_batches(batches)
                    applied = list(outcomes)
                    enqueued = self._follow_ups(applied, now)
                    rows = self._claim_in_transaction(owner, claim)
            except _SomeFenced:  # rolled back: find out outcome by outcome which ones still apply
                with self.write():
                    self._mark_began(marks)
                    applied = [o for o in outcomes if self._finish_one(owner, o, now)]
                    enqueued = self._follow_ups(applied, now)
                    rows = self._claim_in_transaction(owner, claim)
        if enqueued > len(rows):  # not all taken by this worker: wake the others
            self.notify()
        return applied, Job.all_from_rows(rows)  # made after the commit: not while holding the write lock

    def _follow_ups(self, applied: list[Outcome], now: float) -> int:
        follow_ups: list[FollowUp] = [o.then for o in applied if o.then]
        return self._follow_up(follow_ups, now) if follow_ups else 0

    def _mark_began(self, rows: list[tuple]) -> None:
        """Inside the caller's transaction: RESERVED jobs begun become STARTED (a job no longer
        reserved by this owner, its lease lost, is left alone)."""
        if rows:
            self.db.cursor().executemany(self.sql(_BEGAN), rows)

    def _finish_batches(self, batches: Sequence[tuple[str, list[tuple]]]) -> None:
        """The usual case, one statement per kind for the whole batch; raises _SomeFenced when
        any outcome was refused by its fence (the caller's transaction then rolls back)."""
        for statement, rows in batches:
            if not rows:
                continue
            cursor = self.db.cursor()
            cursor.executemany(self.sql(statement), rows)
            if cursor.rowcount != len(rows):  # the rows changed, summed over the batch
                raise _SomeFenced

    def _finish_one(self, owner: str, o: Outcome, now: float) -> bool:
        if not o.keep:
            return bool(self.db.execute_sql(self.sql(_DELETE_FENCED), (o.job_id, o.attempt, owner)).rowcount)
        return bool(self.db.execute_sql(self.sql(_FINISH), _finish_row(o, owner, now)).rowcount)

    def extend_leases(self, owner: str, lease_seconds: float, job_ids: Collection[int]) -> LeaseReport:
        """Extend the leases of ``job_ids``, the jobs ``owner`` really holds (running, waiting to
        run, or with an outcome not yet written). Rows leased to ``owner`` that it does not hold
        (an outcome whose commit a database crash undid) get an expired lease at once, so
        ``rescue_expired`` puts them back rather than their lease being renewed forever. One
        transaction. Returns {job id: revoke requested} for the held jobs still owned (a held job
        missing from it was lost: its lease expired) and the ids of the rows given up."""
        ids = tuple(set(job_ids))
        marks = ", ".join("?" * len(ids))
        mine = "lease_owner = ? AND state IN ('RESERVED', 'STARTED')"
        with self.errors(), self.write():
            rows = self.db.execute_sql(self.sql(
                f"UPDATE lq_jobs SET lease_until = ? WHERE {mine} AND id IN ({marks}) RETURNING id, revoke_requested"
            ), (self.lease_clock() + lease_seconds, owner, *ids)).fetchall() if ids else []
            given_up = [row[0] for row in self.db.execute_sql(self.sql(
                f"UPDATE lq_jobs SET lease_until = 0 WHERE {mine}" + (f" AND id NOT IN ({marks})" if ids else "")
                + " RETURNING id"), (owner, *ids)).fetchall()]
        held = {row[0]: bool(row[1]) for row in rows}
        return LeaseReport(held, given_up)

    def rescue_expired(self) -> list[tuple[str, str, str]]:
        """Put back every job whose lease has expired (its worker died or hung), or fail it with
        WorkerLostError when it acknowledged early or used up its retries. Atomic; any process
        may call it. Returns (task_id, task, new state) of each."""
        now = time.time()
        fails = _LOST_FAILS
        sql = (
            f"UPDATE lq_jobs SET state = CASE WHEN {fails} THEN 'FAILURE' ELSE 'QUEUED' END, "
            f"done_at = CASE WHEN {fails} THEN ? ELSE NULL END, exc_type = ?, "
            "exc_message = 'the worker ' || lease_owner || CASE WHEN lease_until = 0 "
            "THEN ' no longer held it (its outcome was lost, as when a database crash undoes a commit)' "
            "ELSE ' stopped heartbeating (lease expired)' END, "
            "lease_owner = NULL, lease_until = NULL WHERE state IN ('RESERVED', 'STARTED') AND lease_until < ? "
            "RETURNING task_id, task, state, id, durable, attempts, worker, exc_message, history"
        )
        with self.errors(), self.write():
            rows = self.db.execute_sql(self.sql(sql), (False, False, now, _LOST, self.lease_clock())).fetchall()
            lost = [r[3] for r in rows if r[2] == states.FAILURE]
            if lost:  # failed for good: their workflows' errbacks, a chord they were in fails
                flows = self._workflow_jobs(f"id IN ({', '.join('?' * len(lost))})", lost)
                self._ended_elsewhere(flows, states.FAILURE, now)
            over = [r[3] for r in rows if not r[4] and r[2] == states.FAILURE]  # transient: leave nothing
            if over:
                marks = ", ".join("?" * len(over))
                self.db.execute_sql(self.sql(f"DELETE FROM lq_jobs WHERE id IN ({marks})"), over)
            histories = [
                (json.dumps(with_attempt(json.loads(r[8] or "[]"), r[5], r[6], _LOST, r[7], None)), r[3])
                for r in rows if r[3] not in over
            ]
            if histories:
                self.db.cursor().executemany(self.sql("UPDATE lq_jobs SET history = ? WHERE id = ?"), histories)
        return [tuple(r[:3]) for r in rows]

    def release(self, owner: str, job_ids: Sequence[int]) -> int:
        """Give reserved or running jobs back at once (a stop): queued again, the attempt refunded."""
        if not job_ids:
            return 0
        marks = ", ".join("?" * len(job_ids))
        sql = (
            "UPDATE lq_jobs SET state = 'QUEUED', attempts = attempts - 1, lease_owner = NULL, "
            f"lease_until = NULL WHERE lease_owner = ? AND state IN ('RESERVED', 'STARTED') AND id IN ({marks})"
        )
        with self.errors(), self.write():
            return self.db.execute_sql(self.sql(sql), (owner, *job_ids)).rowcount

    def promote_due(self) -> int:
        """Make jobs whose eta has come claimable. Idempotent; any worker may call it."""
        sql = "UPDATE lq_jobs SET wait_until = NULL WHERE wait_until IS NOT NULL AND wait_until <= ?"
        with self.errors(), self.write():
            return self.db.execute_sql(self.sql(sql), (time.time(),)).rowcount

    def next_eta(self) -> float | None:
        """The earliest time a waiting job becomes due, or None."""
        with self.errors():
            row = self.db.execute_sql("SELECT MIN(wait_until) FROM lq_jobs WHERE wait_until IS NOT NULL").fetchone()
        return row[0] if row else None


def _insert_row(job: NewJob, now: float) -> tuple:
    task_id, body, task, queue, routing_key, content_type, priority, eta, expires, max_retries, acks_late, \
        ignore_result, durable, options, flow = job  # one unpacking: cheaper than a dozen field reads
    return (
        task_id, task, queue, routing_key, priority, states.QUEUED, body, content_type, eta,
        eta if eta is not None and eta > now else None, now if eta is None else eta, expires, now,
        max_retries, acks_late, ignore_result, durable, json.dumps(options) if options else None,
        *(flow[:3] if flow is not None else _NO_FLOW),
        options.get("group_id") if options else None, options.get("group_index") if options else None,
    )


_NO_FLOW = (None, None, None)


def _finish_row(o: Outcome, owner: str, now: float) -> tuple:
    waits = o.state == states.RETRY and o.retry_at is not None and o.retry_at > now
    done = now if o.state in states.READY_STATES else None
    history = json.dumps(o.history) if o.history is not None else None
    return (
        o.state, o.result, o.result_type, o.exc_type, o.exc_message, o.traceback, history,
        o.retry_at if o.state == states.RETRY else None, o.retry_at if waits else None,
        o.retry_at if o.state == states.RETRY else None, o.started_at, done,
        int(o.state == states.QUEUED),  # put back as it was (Reject with requeue): the attempt is refunded
        o.job_id, o.attempt, owner,
    )
