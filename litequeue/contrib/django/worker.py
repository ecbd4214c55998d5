"""The app a litequeue worker runs for Django's task API:

    DJANGO_SETTINGS_MODULE=mysite.settings litequeue worker -A litequeue.contrib.django.worker -Q default

Importing it sets Django up, takes the litequeue app of the first ``LiteQueueBackend`` in
``TASKS``, and registers every ``@task`` function found in the ``tasks`` modules of
INSTALLED_APPS (and in ``LITEQUEUE_TASK_MODULES``, a setting listing more modules) under its
module path, so the worker runs those and nothing else.
"""

from __future__ import annotations

import importlib
import os
import traceback
from types import ModuleType
from typing import Any

import django
from django.apps import apps
from django.conf import settings

from litequeue import LiteQueue
from litequeue.errors import ConfigurationError

if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ConfigurationError("The Django worker needs the project's settings: set DJANGO_SETTINGS_MODULE "
                             "(DJANGO_SETTINGS_MODULE=mysite.settings litequeue worker -A "
                             "litequeue.contrib.django.worker).")
django.setup()

from django.utils import timezone  # noqa: E402

from .backend import (  # noqa: E402
    LiteQueueBackend,
    Task,
    TaskContext,
    TaskError,
    TaskResultDoesNotExist,
    TaskResultStatus,
    exception_path,
    task_finished,
    task_started,
)


def find_backend() -> LiteQueueBackend:
    """The first of settings.TASKS that is a LiteQueueBackend."""
    try:
        from django.tasks import task_backends
    except ImportError:
        from django_tasks import task_backends
    for alias in getattr(settings, "TASKS", {}):
        backend = task_backends[alias]
        if isinstance(backend, LiteQueueBackend):
            return backend
    raise ConfigurationError("No TASKS backend of settings is litequeue.contrib.django.backend.LiteQueueBackend; "
                             "add one (see litequeue.contrib.django.backend).")


def register_tasks(app: LiteQueue, backend: LiteQueueBackend) -> list[str]:
    """Register the Django tasks of the project's task modules with ``app``; their names."""
    names = []
    for module in _task_modules():
        for value in vars(module).values():
            if isinstance(value, Task) and value.module_path not in app.tasks:
                app.task(name=value.module_path, bind=True)(_runner(value, backend))
                names.append(value.module_path)
    return names


def _task_modules() -> list[ModuleType]:
    names = [f"{config.name}.tasks" for config in apps.get_app_configs()]
    names += list(getattr(settings, "LITEQUEUE_TASK_MODULES", []))
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but an import inside it failed
                raise
    return modules


def _runner(django_task: Task, backend: LiteQueueBackend) -> Any:
    """The litequeue task that runs ``django_task``: it sends Django's ``task_started`` and
    ``task_finished`` signals around the call (with the TaskResult as it stands then, RUNNING, then
    SUCCESSFUL or FAILED with the error), and passes a TaskContext to ``takes_context`` tasks."""

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = _running(backend, self.request)
        if result is not None:
            task_started.send(type(backend), task_result=result)
        try:
            if django_task.takes_context:
                value = django_task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = django_task.call(*args, **kwargs)
        except BaseException as exc:
            if result is not None:
                _set(result, status=TaskResultStatus.FAILED, finished_at=timezone.now())
                result.errors.append(TaskError(exception_class_path=exception_path(_type_path(exc)),
                                               traceback="".join(traceback.format_exception(exc))))
                task_finished.send(type(backend), task_result=result)  # inside the handler: exc_info is set
            raise
        if result is not None:
            _set(result, status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now(), _return_value=value)
            task_finished.send(type(backend), task_result=result)
        return value

    run.__name__ = django_task.name
    run.__module__ = django_task.func.__module__
    return run


def _running(backend: LiteQueueBackend, request: Any) -> Any:
    """The job's TaskResult as it runs now: RUNNING, started now, this attempt's worker counted
    (Django's ``attempts`` is the number of workers that began it)."""
    try:
        result = backend.get_result(request.id)
    except TaskResultDoesNotExist:
        return None
    now = timezone.now()
    _set(result, status=TaskResultStatus.RUNNING, started_at=now, last_attempted_at=now)
    if len(result.worker_ids) < request.retries + 1:
        result.worker_ids.append(request.hostname)
    return result


def _set(result: Any, **values: Any) -> None:
    for name, value in values.items():  # TaskResult is a frozen dataclass
        object.__setattr__(result, name, value)


def _type_path(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


backend = find_backend()
app = backend.app
registered = register_tasks(app, backend)
