"""Which task a job's name runs: the rule every worker applies (``resolve_task``).

A job's task name comes from a row anyone with write access to the store can write, so a name is
a request, not an instruction. The rule, as in Celery: only tasks registered with the worker's app
run; any other name is ``NotRegistered`` (the job ends FAILURE). Importing a task by its dotted
name happens only when the user opted in (the ``worker_import_tasks_by_name`` setting, or
``litequeue worker --import-tasks-by-name``), and even then the name must lead to a litequeue
``Task`` object in a module outside the standard library: never a builtin, a plain function or
any other callable.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ..errors import NotRegistered
from ..task import Task

if TYPE_CHECKING:
    from ..app import LiteQueue

_REFUSED_MODULES = frozenset(sys.stdlib_module_names) | {"__main__", "__mp_main__", "litequeue"}


def resolve_task(app: LiteQueue, name: str) -> Task:
    """The Task that a job (or a signature) naming ``name`` runs on ``app``'s workers.

    Registered tasks only; with ``app.conf.worker_import_tasks_by_name``, also a litequeue Task
    found by importing ``module.attr`` (never a builtin or other callable). Raises NotRegistered,
    whose message names the fix, for anything else."""
    task = app.tasks.get(name)
    if task is not None:
        return task
    if not app.conf.worker_import_tasks_by_name:
        raise NotRegistered(
            f"Received a job for the unknown task {name!r}: it is not registered with this worker's app. "
            "Start the worker with the app that defines it (-A module), or register it there."
        )
    return _import_task(app, name)


def _import_task(app: LiteQueue, name: str) -> Task:
    module_name, _, attr = name.rpartition(".")
    if not module_name or module_name.partition(".")[0] in _REFUSED_MODULES:
        raise NotRegistered(
            f"Received a job for the unknown task {name!r}: it is not registered, and importing tasks by "
            "name takes only litequeue tasks from your own modules (not the standard library's). "
            "Register the task with the worker's app (-A module)."
        )
    try:
        obj: Any = getattr(importlib.import_module(module_name), attr, None)
    except Exception as exc:
        raise NotRegistered(
            f"Received a job for the unknown task {name!r}: importing {module_name!r} failed "
            f"({type(exc).__name__}: {exc}). Start the worker with the app that defines it (-A module)."
        ) from None
    registered = app.tasks.get(name)  # importing the module may have registered it with our app
    if registered is not None:
        return registered
    if isinstance(obj, Task):
        return obj
    what = "nothing" if obj is None else f"a {type(obj).__name__}, not a litequeue task"
    raise NotRegistered(
        f"Received a job for the unknown task {name!r}: that name is {what}. Only functions decorated "
        "with @app.task run; register it with the worker's app (-A module)."
    )


class TaskResolver:
    """``resolve_task`` for one worker's app (kept as an object the pool children inherit)."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app

    def resolve(self, name: str) -> Task:
        return resolve_task(self.app, name)

    def find(self, name: str) -> Task | None:
        """Like resolve, but None for a name that would not run."""
        try:
            return self.resolve(name)
        except NotRegistered:
            return None
