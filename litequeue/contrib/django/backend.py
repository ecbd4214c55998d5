"""A backend for Django's own task API (``django.tasks`` in Django 6; the ``django_tasks``
backport before it): ``@task`` functions, ``.enqueue()`` and ``TaskResult`` on litequeue.

```python
TASKS = {
    "default": {
        "BACKEND": "litequeue.contrib.django.backend.LiteQueueBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"DATABASE": BASE_DIR / "queue.sqlite"},   # or {"APP": "mysite.queue:app"}
    }
}
```

With ``"ENQUEUE_IN": "default"`` in OPTIONS (a database alias; the store in that database), a
task enqueued inside ``transaction.atomic()`` is written through Django's connection, in the
same transaction as the models.

Workers: ``DJANGO_SETTINGS_MODULE=mysite.settings litequeue worker -A litequeue.contrib.django.worker``.
A job is named by its task's module path; the worker runs only the ``@task`` functions it found
in the ``tasks`` modules of INSTALLED_APPS (see ``worker.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django.db import connections
from django.utils.module_loading import import_string

from litequeue import AsyncResult, LiteQueue, states
from litequeue.errors import ConfigurationError

from . import enqueue_in

try:  # Django 6+: its own django.tasks
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
except ImportError:  # the backport, for Django 4.2 - 5.2
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started

__all__ = ["LiteQueueBackend", "Task", "TaskContext", "TaskResultDoesNotExist", "task_enqueued", "task_finished",
           "task_started"]

_STATUS = {  # a job not begun yet (waiting, scheduled, claimed ahead by a worker) is READY
    states.PENDING: TaskResultStatus.READY, states.QUEUED: TaskResultStatus.READY,
    states.SCHEDULED: TaskResultStatus.READY, states.RESERVED: TaskResultStatus.READY,
    states.RETRY: TaskResultStatus.READY, states.STARTED: TaskResultStatus.RUNNING,
    states.SUCCESS: TaskResultStatus.SUCCESSFUL, states.FAILURE: TaskResultStatus.FAILED,
    states.REVOKED: TaskResultStatus.FAILED, states.IGNORED: TaskResultStatus.FAILED,  # ignored: no result
}
_NO_RESULT = {states.REVOKED: "litequeue.errors.TaskRevokedError", states.IGNORED: "litequeue.errors.TaskIgnoredError"}


class LiteQueueBackend(BaseTaskBackend):
    """Django tasks as litequeue jobs: stored in the app's database, run by litequeue workers."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = False

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self.app = _app(self.options, alias)

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        options: dict[str, Any] = {"queue": task.queue_name, "priority": task.priority}
        if task.run_after is not None:
            options["eta"] = task.run_after
        with self._in_transaction():
            result = self.app.send_task(task.module_path, args=list(args), kwargs=dict(kwargs), **options)
        task_result = self._result(task, result.id, list(args), dict(kwargs), job=None)
        task_enqueued.send(type(self), task_result=task_result)
        return task_result

    def _in_transaction(self) -> contextlib.AbstractContextManager[Any]:
        """With OPTIONS "ENQUEUE_IN" (a database alias), a job enqueued inside that database's
        transaction is written through its connection: it commits or rolls back with the models."""
        using = self.options.get("ENQUEUE_IN")
        if using and connections[using].in_atomic_block:
            return enqueue_in(using)
        return contextlib.nullcontext()

    def get_result(self, result_id: str) -> TaskResult:
        job = self.app.store.get(result_id)
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        task = import_string(job.task)
        if not isinstance(task, Task):
            raise TaskResultDoesNotExist(f"{result_id} is a litequeue job of {job.task}, not a Django task.")
        from litequeue import serialization

        accept = serialization.accepted_types(self.app.conf.accept_content)
        args, kwargs = serialization.loads(job.body, job.content_type, accept)
        return self._result(task, result_id, list(args), kwargs, job)

    def _result(self, task: Task, result_id: str, args: list, kwargs: dict, job: Any) -> TaskResult:
        def when(epoch: float | None) -> dt.datetime | None:
            return dt.datetime.fromtimestamp(epoch, dt.UTC) if epoch else None

        state = job.state if job else states.QUEUED
        errors = [TaskError(exception_class_path=exception_path(entry.get("exc_type")),
                            traceback=entry.get("traceback") or entry.get("message") or "")
                  for entry in (job.history if job is not None else [])]  # each failed attempt
        if job is not None and state in (states.FAILURE, *_NO_RESULT) and not _same_attempt(job):
            final = exception_path(job.exc_type or _NO_RESULT.get(state, _NO_RESULT[states.REVOKED]))
            errors.append(TaskError(exception_class_path=final, traceback=job.traceback or job.exc_message or ""))
        result = TaskResult(
            task=task, id=result_id, status=_STATUS.get(state, TaskResultStatus.RUNNING),
            enqueued_at=when(job.created_at) if job else dt.datetime.now(dt.UTC),
            started_at=when(job.started_at) if job else None,
            finished_at=when(job.done_at) if job else None,
            last_attempted_at=when(job.started_at) if job else None,
            args=args, kwargs=kwargs, backend=self.alias, errors=errors,
            worker_ids=_worker_ids(job),
        )
        if state == states.SUCCESS:
            object.__setattr__(result, "_return_value", AsyncResult(result_id, app=self.app).result)
        return result


def exception_path(name: str | None) -> str:
    """A stored exception type as Django's TaskError wants it: an importable dotted path (the
    store names builtins by their bare name: ``ValueError`` -> ``builtins.ValueError``)."""
    if not name:
        return "builtins.Exception"
    return name if "." in name else f"builtins.{name}"


def _same_attempt(job: Any) -> bool:
    """Whether the job's final error is its history's last entry already (a failed attempt is
    recorded in the history when it is the last one, too)."""
    if not job.history:
        return False
    last = job.history[-1]
    return bool(last.get("attempt") == job.attempts and last.get("exc_type") == job.exc_type)


def _worker_ids(job: Any) -> list[str]:
    """One worker per attempt that began (Django counts ``attempts`` as ``len(worker_ids)``): the
    workers of the failed attempts, then the one that ran (or runs) the job now."""
    if job is None:
        return []
    ids = [str(entry.get("worker")) for entry in job.history if entry.get("worker")]
    ran = (states.STARTED, states.SUCCESS, states.FAILURE, states.IGNORED)
    if job.worker and job.state in ran and len(ids) < job.attempts:
        ids.append(job.worker)
    return ids


def _app(options: dict, alias: str) -> LiteQueue:
    if "APP" in options:
        app = import_string(options["APP"].replace(":", "."))
        if not isinstance(app, LiteQueue):
            raise ConfigurationError(f"TASKS[{alias!r}]['OPTIONS']['APP'] must name a LiteQueue app, "
                                     f"not {type(app).__name__}.")
        return app
    if "DATABASE" in options:
        settings = {k.lower(): v for k, v in options.items() if k not in ("DATABASE", "ENQUEUE_IN")}
        return LiteQueue(str(options["DATABASE"]), main=f"django-tasks-{alias}", **settings)
    raise ConfigurationError(
        f"TASKS[{alias!r}]['OPTIONS'] needs 'DATABASE' (a path or URL of litequeue's store) or 'APP' "
        "(the dotted path of a LiteQueue app).")
