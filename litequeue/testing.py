"""Helpers for testing your own tasks without starting worker processes.

Two ways, both running jobs in this process through the worker's own execute pipeline and
recording outcomes in the store exactly as a worker would:

- ``app.conf.task_always_eager = True`` (Celery's setting): every ``delay()`` / ``apply_async()``
  runs the job at once, inline. Its result is stored, so ``AsyncResult.get()`` works as usual. A
  job that fails is recorded as FAILURE; with ``task_eager_propagates`` (off by default, as in
  Celery) the exception is raised at the call, otherwise from ``get()``. Retries run again at once.
- ``drain(app)``: send jobs normally, then run every job that is due, in this process.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import serialization, signals, states
from .canvas.followups import with_follow_ups
from .errors import LiteQueueError
from .store import Job, Outcome
from .worker import outcomes
from .worker.execute import ChildContext, Work, execute
from .worker.registry import TaskResolver

if TYPE_CHECKING:
    from .app import LiteQueue

__all__ = ["drain", "run_eagerly"]


def run_eagerly(app: LiteQueue, task_id: str) -> None:
    """Run the waiting job ``task_id`` now, in this process, until it is over (what
    ``task_always_eager`` calls). Raises the task's exception when ``task_eager_propagates``."""
    runner = _Runner(app, "eager")
    failure: list[BaseException] = []  # the exception object itself, to raise at the call

    def remember(sender: object = None, exception: BaseException | None = None, **kwargs: object) -> None:
        if kwargs.get("task_id") == task_id and exception is not None:
            failure.append(exception)

    signals.task_failure.connect(remember)
    try:
        while True:
            job = app.store.claim_by_id(runner.owner, task_id, runner.lease)
            if job is None:
                return
            outcome = runner.run(job)
            if outcome.state != states.RETRY:  # a retry runs again at once, as in Celery's eager mode
                break
    finally:
        signals.task_failure.disconnect(remember)
    if outcome.state == states.REPLACED:  # its replacement, here and now (its last job has its id)
        drain(app)
        return
    if outcome.state == states.FAILURE and failure and app.conf.task_eager_propagates:
        raise failure[-1]


def drain(app: LiteQueue, queues: Sequence[str] | None = None, include_scheduled: bool = False,
          limit: int | None = None) -> int:
    """Run every job that is due (of ``queues``, or all), in this process, until none is left;
    jobs that a run sends or retries at once are run too. Returns how many attempts ran.

    ``include_scheduled=True`` also runs jobs waiting for a future eta (a countdown, a retry
    delay) as if their time had come. ``limit`` stops after that many attempts (a task that
    keeps sending jobs would otherwise never let it end).
    """
    runner = _Runner(app, "drain")
    ran = 0
    while limit is None or ran < limit:
        app.store.promote_due()
        jobs = app.store.claim(runner.owner, list(queues) if queues else None, (), 1, runner.lease)
        if not jobs and include_scheduled:
            jobs = _claim_scheduled(app, runner, queues)
        if not jobs:
            break
        runner.run(jobs[0])
        ran += 1
    return ran


def _claim_scheduled(app: LiteQueue, runner: _Runner, queues: Sequence[str] | None) -> list[Job]:
    waiting = app.store.list_jobs(states.WAITING_STATES, limit=50, scheduled=True)
    for job in waiting:
        if queues and job.queue not in queues:
            continue
        claimed = app.store.claim_by_id(runner.owner, job.task_id, runner.lease)
        if claimed is not None:
            return [claimed]
    return []


class _Runner:
    """Runs claimed jobs here and records their outcomes, keeping their leases alive meanwhile."""

    def __init__(self, app: LiteQueue, kind: str) -> None:
        self.app = app
        self.name = f"{kind}-{os.getpid()}@{socket.gethostname()}"
        self.owner = f"{self.name}/{uuid.uuid4().hex[:8]}"
        self.lease = app.conf.worker_lease_seconds
        conf = app.conf
        self.ctx = ChildContext(TaskResolver(app), self.name, serialization.accepted_types(conf.accept_content),
                                serialization.content_type_for(conf.result_serializer), eager=True)

    def run(self, job: Job) -> Outcome:
        if job.expires is not None and job.expires <= time.time():
            outcome = outcomes.expired(job)
        else:
            with _LeaseKeeper(self.app, self.owner, self.lease, job.id):
                reply = execute(Work.of(job), self.ctx)
            outcome = outcomes.from_reply(job, reply, self.name)
        outcome = with_follow_ups(self.app, job, dataclasses.replace(outcome, keep=True))  # a test reads the
        # result even of a transient job
        self.app.store.finish(self.owner, [outcome])
        return outcome


class _LeaseKeeper:
    """Extends the runner's leases every heartbeat interval while a job runs, as a worker's
    heartbeat does, so a long job is not handed to a worker elsewhere."""

    def __init__(self, app: LiteQueue, owner: str, lease: float, job_id: int) -> None:
        self.app, self.owner, self.lease, self.job_id = app, owner, lease, job_id
        self.interval = app.conf.worker_heartbeat_interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="litequeue-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _keep(self) -> None:
        store = self.app.store
        try:
            while not self._done.wait(self.interval):
                store.extend_leases(self.owner, self.lease, [self.job_id])
        except LiteQueueError:
            pass  # a busy store: the lease is long enough to try again at the next run
        finally:
            store.db.close()  # this thread's connection
