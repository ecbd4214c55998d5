"""Turning what a child reported (a Reply, or its death) into the Outcome the store records."""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from typing import TYPE_CHECKING

from .. import states
from ..errors import TimeLimitExceeded, WorkerLostError
from ..retries import RetryPolicy
from ..store import Job, Outcome
from ..store.records import with_attempt
from . import job_signals, logs
from .children import Death
from .execute import Reply

if TYPE_CHECKING:
    from .registry import TaskResolver

log = logging.getLogger("litequeue.worker")


def of_report(job: Job, report: Reply | Death, began: float | None, resolver: TaskResolver, worker: str) -> Outcome:
    """The Outcome of what a child reported for ``job`` (begun at ``began``, wall clock), logged
    as Celery logs it; a job killed by a revoke sends task_revoked."""
    if isinstance(report, Death):
        outcome = from_death(job, report, worker)
        if report.reason == "terminated":
            # SIGKILL only where a process was killed; a thread or solo job was stopped without a signal to it
            signum = signal.SIGKILL if report.runner == "process" else None
            job_signals.revoked(resolver, job, worker, terminated=True, signum=signum)
        log.error("Task %s[%s] %s: %s", job.task, job.task_id, outcome.state.lower(), report.describe())
        return dataclasses.replace(outcome, started_at=began)
    task = resolver.find(job.task)
    logs.reply(job, report, task.options.throws if task is not None else ())
    return from_reply(job, report, worker, report.started_at or began)


def from_reply(job: Job, reply: Reply, worker: str, started_at: float | None = None) -> Outcome:
    """The Outcome of an attempt that ran to an end in the child (started at ``started_at``)."""
    failed = reply.state in (states.FAILURE, states.RETRY)
    history = _with_attempt(job, worker, reply.exc_type, reply.exc_message, reply.traceback) if failed else None
    return Outcome(
        job.id, job.attempts, reply.state, reply.result, reply.result_type, reply.exc_type,
        reply.exc_message, reply.traceback, reply.retry_at, history,
        keep=job.durable or reply.state in (states.RETRY, states.QUEUED, states.REPLACED), started_at=started_at,
        missed_start=None if reply.missed_start is None else (reply.missed_start, reply.late_start or 0.0),
    )


def from_death(job: Job, death: Death, worker: str) -> Outcome:
    """The Outcome of an attempt whose child died: killed for a limit, revoked, or crashed."""
    if death.reason == "terminated":
        return _ended(job, states.REVOKED, None, "revoked with terminate", worker)
    error = TimeLimitExceeded if death.reason == "time_limit" else WorkerLostError
    message = f"{death.describe()} (attempt {job.attempts})"
    retries_used = max(job.attempts - 1, 0)
    # reject_on_worker_lost (Celery's): True requeues whatever the retries used, False fails at once;
    # unset, a job whose child died runs again while it has retries left (at-least-once).
    lost = job.options.get("reject_on_worker_lost")
    again = lost if lost is not None else RetryPolicy.may_retry(retries_used, job.max_retries)
    if death.reason == "crashed" and job.acks_late and again:
        history = _with_attempt(job, worker, _name(error), message, None)
        return Outcome(job.id, job.attempts, states.RETRY, exc_type=_name(error), exc_message=message,
                       retry_at=time.time(), history=history)
    return _ended(job, states.FAILURE, error, message, worker)


UNRECORDABLE = "litequeue.errors.SerializationError"
NOT_STORED = "The outcome of this attempt could not be stored"


def unrecordable(job_id: int, attempt: int, error: BaseException) -> Outcome:
    """A FAILURE to record in place of an outcome that could not be made or stored (a value no
    store can hold, or a bug): the job ends with a message saying so, and the worker lives on."""
    return Outcome(job_id, attempt, states.FAILURE, exc_type=UNRECORDABLE,
                   exc_message=f"{NOT_STORED} ({describe(error)}).")


def describe(error: BaseException) -> str:
    """``Type: message`` in plain ASCII, whatever the exception holds."""
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:
        text = type(error).__name__
    return text.encode("ascii", "backslashreplace").decode()[:500]


def expired(job: Job) -> Outcome:
    """The Outcome of a job claimed after its expiry time: revoked without running."""
    return Outcome(job.id, job.attempts, states.REVOKED, exc_message="expired before it started", keep=job.durable)


def revoked_unstarted(job: Job) -> Outcome:
    """The Outcome of a reserved job revoked before it began: revoked without running."""
    return Outcome(job.id, job.attempts, states.REVOKED, exc_message="revoked before it started", keep=job.durable)


def _ended(job: Job, state: str, error: type | None, message: str, worker: str) -> Outcome:
    exc_type = _name(error) if error else None
    history = _with_attempt(job, worker, exc_type, message, None) if error else None
    return Outcome(job.id, job.attempts, state, exc_type=exc_type, exc_message=message,
                   history=history, keep=job.durable)


def _with_attempt(job: Job, worker: str, exc_type: str | None, message: str | None, trace: str | None) -> list:
    return with_attempt(job.history, job.attempts, worker, exc_type, message, trace)


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
