"""The signals a worker's main process sends about jobs it holds (Celery's task_received and
task_revoked), with Celery's arguments. Nothing is built unless a receiver is connected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import signals
from ..celery_messages import request_of
from ..store import Job

if TYPE_CHECKING:
    from .registry import TaskResolver


def received(worker: object, job: Job, hostname: str) -> None:
    if signals.task_received.receivers:
        signals.task_received.send(sender=worker, request=request_of(job, hostname))


def revoked(resolver: TaskResolver, job: Job, hostname: str, *, terminated: bool = False,
            signum: int | None = None, expired: bool = False) -> None:
    if signals.task_revoked.receivers:
        signals.task_revoked.send(sender=resolver.find(job.task), request=request_of(job, hostname),
                                  terminated=terminated, signum=signum, expired=expired)
