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

from .backend import LiteQueueBackend, Task, TaskResultDoesNotExist  # noqa: E402


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
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if django_task.takes_context:
            from .backend import TaskContext

            try:
                result = backend.get_result(self.request.id)
            except TaskResultDoesNotExist:
                result = None
            return django_task.call(TaskContext(task_result=result), *args, **kwargs)
        return django_task.call(*args, **kwargs)

    run.__name__ = django_task.name
    run.__module__ = django_task.func.__module__
    return run


backend = find_backend()
app = backend.app
registered = register_tasks(app, backend)
