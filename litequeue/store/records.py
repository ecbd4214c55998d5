"""Values that cross the store boundary: what is written, what is read, what a run produced."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .. import states

HISTORY_LIMIT = 10  # failed attempts kept per job
TRACEBACK_LIMIT = 8000  # characters of each traceback kept in the history


def with_attempt(history: list, attempt: int, worker: str | None, exc_type: str | None,
                 message: str | None, trace: str | None) -> list:
    """``history`` plus an entry for one failed attempt, keeping the last HISTORY_LIMIT."""
    entry = {
        "attempt": attempt, "time": time.time(), "worker": worker, "exc_type": exc_type,
        "message": message, "traceback": trace[-TRACEBACK_LIMIT:] if trace else None,
    }
    return (list(history) + [entry])[-HISTORY_LIMIT:]


class Flow(NamedTuple):
    """A job's flow-control keys, computed at enqueue (see litequeue/flow.py)."""

    unique_key: str | None = None  # no other counting job with this key is enqueued meanwhile
    unique_until: float | None = None  # epoch seconds the uniqueness lasts until
    flow_key: str | None = None  # its concurrency key: at most ``concurrency`` of the key run at once
    concurrency: int | None = None  # the task's limit per key (kept in lq_limits, not in the job)


class NewJob(NamedTuple):
    """A job about to be enqueued; every field already validated and serialised. (A tuple:
    a bulk enqueue makes one per call, and a tuple is several times cheaper to build.)"""

    task_id: str
    body: bytes
    task: str
    queue: str
    routing_key: str
    content_type: str
    priority: int = 0
    eta: float | None = None  # epoch seconds; None = now
    expires: float | None = None  # epoch seconds
    max_retries: int | None = 3  # None = retry forever
    acks_late: bool = True
    ignore_result: bool = False
    durable: bool = True  # False for transient queues (delivery_mode=1)
    options: dict | None = None  # rarely used per-call options (time limits, ...)
    flow: Flow | None = None  # unique key, concurrency key


@dataclass(frozen=True)
class Job:
    """One job as the store holds it. Read-only; change it through the store's operations."""

    id: int
    task_id: str
    task: str
    queue: str
    routing_key: str
    priority: int
    state: str
    body: bytes | None
    content_type: str
    eta: float | None
    expires: float | None
    created_at: float
    started_at: float | None
    done_at: float | None
    attempts: int
    max_retries: int | None
    acks_late: bool
    ignore_result: bool
    durable: bool
    worker: str | None
    lease_owner: str | None
    lease_until: float | None
    result: bytes | None
    result_type: str | None
    exc_type: str | None
    exc_message: str | None
    traceback: str | None
    custom_state: str | None = None
    meta: bytes | None = None
    history: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    due_at: float | None = None  # when it became due: its eta, or when it was sent
    flow_key: str | None = None  # its concurrency key ("task\x1fvalue", or the task's name), if limited
    granted_at: float | None = None  # the start a rate limit granted its attempt (None: under no rate limit)
    parent_id: str | None = None  # the job that started it (or the group of the chord it is the callback of)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        values: dict[str, Any] = {k: row.get(k) for k in cls.__dataclass_fields__}
        values["history"] = json.loads(row["history"]) if row.get("history") else []
        values["options"] = json.loads(row["options"]) if row.get("options") else {}
        for flag in ("acks_late", "ignore_result", "durable"):
            values[flag] = bool(values[flag])
        if isinstance(values["body"], memoryview):
            values["body"] = bytes(values["body"])
        for blob in ("result", "meta"):
            if isinstance(values[blob], memoryview):
                values[blob] = bytes(values[blob])
        return cls(**values)

    @classmethod
    def all_from_cursor(cls, cursor: Any) -> list[Job]:
        """Every row a DB-API cursor over ``SELECT``/``RETURNING`` JOB_COLUMNS holds, as Jobs."""
        names = tuple(d[0] for d in cursor.description)
        if names != FIELD_NAMES:
            return [cls.from_row(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
        return cls.all_from_rows(cursor.fetchall())

    @classmethod
    def all_from_rows(cls, rows: list[tuple]) -> list[Job]:
        """Rows whose columns are exactly a Job's fields, in order (JOB_COLUMNS), as Jobs."""
        return [cls._from_values(list(row)) for row in rows]

    @classmethod
    def _from_values(cls, v: list) -> Job:
        """A Job from a row whose columns are exactly its fields, in order."""
        for i in _FLAGS:
            v[i] = bool(v[i])
        for i in _BLOBS:
            if isinstance(v[i], memoryview):
                v[i] = bytes(v[i])
        v[_HISTORY] = json.loads(v[_HISTORY]) if v[_HISTORY] else []
        v[_OPTIONS] = json.loads(v[_OPTIONS]) if v[_OPTIONS] else {}
        job = object.__new__(cls)  # the fields straight into the instance: a claim makes many
        job.__dict__.update(zip(FIELD_NAMES, v, strict=True))
        return job

    @property
    def retries(self) -> int:
        """Retries so far: attempts beyond the first that have started or been scheduled."""
        if self.state in (states.RESERVED, states.STARTED, states.SUCCESS, states.FAILURE, states.IGNORED):
            return max(self.attempts - 1, 0)
        return self.attempts


FIELD_NAMES = tuple(Job.__dataclass_fields__)  # a row of JOB_COLUMNS holds them in this order
_FLAGS = [FIELD_NAMES.index(n) for n in ("acks_late", "ignore_result", "durable")]
_BLOBS = [FIELD_NAMES.index(n) for n in ("body", "result", "meta")]
_HISTORY, _OPTIONS = FIELD_NAMES.index("history"), FIELD_NAMES.index("options")


class NewGroup(NamedTuple):
    """A group about to be stored with its jobs: its members' task ids in order and, for a
    chord, the callback (JSON written above the store) enqueued when the last member is over."""

    group_id: str
    members: list[str]
    callback: str | None = None


class NewChain(NamedTuple):
    """A chain's steps (JSON written above the store), stored once when it is sent; each step's
    job names the chain and the index of the step after it."""

    chain_id: str
    steps: str


class ChainStep(NamedTuple):
    """A chain step succeeded: send step ``position`` of chain ``chain_id`` with its result."""

    chain_id: str
    position: int
    result: bytes | None
    result_type: str | None
    parent_id: str | None = None  # the step that succeeded (the next step's parent)


class JoinStep(NamedTuple):
    """A chord member is over: move its group's counter (``failed``: None when it succeeded, else
    what went wrong, which fails the chord)."""

    group_id: str
    task_id: str
    failed: str | None = None
    place: int | None = None  # a member that succeeded: its place in the header, and its result
    result: bytes | None = None
    result_type: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """What an outcome sets off, written in the transaction that records it, and only if its
    fence lets it apply: jobs to enqueue (links, errbacks), the groups and chains they start,
    the next step of a chain it is in, and a step of a chord's join. ``failed`` holds jobs
    stored as already failed, with (exc_type, message): a chord's callback when the chord fails.
    ``ended`` holds (task_id, state, exc_type, message, traceback) of REPLACED jobs whose
    replacement stopped before its last job: they end as the step that stopped it."""

    jobs: tuple[NewJob, ...] = ()
    groups: tuple[NewGroup, ...] = ()
    join: JoinStep | None = None
    failed: tuple[tuple[NewJob, str, str], ...] = ()
    chains: tuple[NewChain, ...] = ()
    step: ChainStep | None = None
    ended: tuple[tuple[str, str, str | None, str | None, str | None], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.jobs or self.groups or self.join or self.failed or self.chains or self.step or self.ended)


@dataclass(frozen=True)
class Outcome:
    """What one attempt of a job produced, as the worker records it.

    ``state`` is SUCCESS, FAILURE, RETRY (run again at ``retry_at``), REVOKED, IGNORED (its task
    raised Ignore), REPLACED, or QUEUED (put back as it was: rejected with requeue, or released at
    shutdown).
    """

    job_id: int
    attempt: int
    state: str
    result: bytes | None = None
    result_type: str | None = None
    exc_type: str | None = None
    exc_message: str | None = None
    traceback: str | None = None
    retry_at: float | None = None
    history: list | None = None  # the job's history including this attempt, if it failed
    keep: bool = True  # False: delete the row (transient job that is over)
    started_at: float | None = None  # when the attempt began to run (claims may come earlier)
    then: FollowUp | None = None  # what it sets off (workflows), written with it
    # (start, tolerance) a rate limit granted an attempt its child reached too late to begin:
    # handed back unrun (state QUEUED), the start is given back to its buckets (store/rate_buckets.py)
    missed_start: tuple[float, float] | None = None


@dataclass(frozen=True)
class QueueStats:
    """What one queue holds right now (``Store.queue_stats``)."""

    queue: str
    queued: int  # due and waiting for a worker
    scheduled: int  # waiting for a future eta
    running: int
    retrying: int  # failed an attempt, waiting to run again
    failed: int
    revoked: int
    done_recently: int  # finished (any outcome) since the time asked about
    oldest_due_at: float | None  # since when the longest-waiting due job has been due
    reserved: int = 0  # claimed ahead by a worker, not begun


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as registered in the store."""

    name: str
    hostname: str
    pid: int
    concurrency: int
    queues: str
    started_at: float
    heartbeat_at: float
    processed: int
    stopped_at: float | None = None
    conf: str | None = None  # the settings it runs with, as JSON (inspect conf)
