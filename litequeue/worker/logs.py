"""The worker's log lines, Celery-like: ``Task add[id] received``, ``... succeeded in 0.002s: 5``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import __version__, states
from ..display import printable, printable_block
from ..store import Job, describe_url
from .execute import Reply

if TYPE_CHECKING:
    from .consumer import Worker

log = logging.getLogger("litequeue.worker")
lifecycle = logging.getLogger("litequeue.worker.lifecycle")  # shown at the default level (see litequeue.log)


def reply(job: Job, report: Reply, expected: tuple = ()) -> None:
    """Log what a child reported for ``job``; an error of a class in ``expected`` (the task's
    ``throws``) in one line at INFO, as Celery does."""
    if report.state == states.SUCCESS:
        log.info("Task %s[%s] succeeded in %.6fs: %s", job.task, job.task_id, report.runtime, report.result_repr)
    elif report.state == states.RETRY:
        log.info("Task %s[%s] retry: %s: %s", job.task, job.task_id, report.exc_type, report.exc_message)
    elif report.state == states.REPLACED:
        log.info("Task %s[%s] replaced by %s", job.task, job.task_id, report.result_repr)
    elif report.state == states.IGNORED:
        log.info("Task %s[%s] ignored: %s", job.task, job.task_id, report.result_repr)
    elif report.state == states.QUEUED and report.missed_start is not None:
        log.info("Task %s[%s] handed back unrun: %s", job.task, job.task_id, report.exc_message)
    elif report.state == states.QUEUED:
        log.info("Task %s[%s] rejected and requeued: %s", job.task, job.task_id, report.exc_message)
    elif report.exc_type and any(report.exc_type in _names(cls) for cls in expected):
        log.info("Task %s[%s] raised expected: %s: %s", job.task, job.task_id, report.exc_type, report.exc_message)
    else:
        log.error("Task %s[%s] raised unexpected: %s: %s\n%s", job.task, job.task_id, report.exc_type,
                  report.exc_message, Block(printable_block(report.traceback or "")))


class Block(str):
    """A log argument whose line breaks are meant (a traceback): only other controls are escaped."""


class _Escaping(logging.Filter):
    """Every text argument of the worker's log lines is escaped: a task name, an id or a message
    read from the store never forges a log line or sends a terminal control."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(printable(a) if type(a) is str else a for a in record.args)
        return True


log.addFilter(_Escaping())


def _names(cls: type) -> tuple[str, str]:
    return cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}"


def banner(worker: Worker) -> None:
    """The start-up line: version, name, store, queues, concurrency, tasks."""
    if worker.queues:
        queues = ", ".join(worker.queues)
    else:
        excluded = worker.options.exclude
        queues = "all" + (f" except {', '.join(excluded)}" if excluded else "")
    lifecycle.info("litequeue %s worker %s ready: store %s, queues %s, concurrency %d (%s), %d task(s) registered",
                   __version__, worker.name, describe_url(worker.app.store.url), queues, worker.concurrency,
                   worker.options.pool, len(worker.app.tasks))


def short_lease_warning(lease: float, heartbeat: float, busy_timeout: float) -> None:
    """Warn when a lease could expire while its worker lives but waits for the write lock."""
    margin = heartbeat + busy_timeout
    if lease <= margin:
        log.warning(
            "worker_lease_seconds (%g) is not above worker_heartbeat_interval + sqlite_busy_timeout "
            "(%g): when writers keep the database busy, this worker's leases may expire while it "
            "lives and its jobs run twice. Raise worker_lease_seconds.", lease, margin)


def burst_summary(worker: Worker, seconds: float) -> None:
    """The line a ``--burst`` run ends with: how many jobs, how fast, and how they ended."""
    done = sum(worker.ended.values())
    ended = ", ".join(f"{n} {_ENDED.get(state, state.lower())}" for state, n in sorted(worker.ended.items()))
    lifecycle.info("Burst finished: %d job(s) in %.2fs (%.0f/s): %s.", done, seconds,
                   done / seconds if seconds > 0 else 0.0, ended or "nothing was due")


_ENDED = {states.SUCCESS: "succeeded", states.FAILURE: "failed", states.RETRY: "retried",
          states.REVOKED: "revoked", states.QUEUED: "requeued", states.REPLACED: "replaced",
          states.IGNORED: "ignored"}


def stopped(worker: Worker) -> None:
    lifecycle.info("Worker %s stopped.", worker.name)
