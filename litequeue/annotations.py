"""task_annotations: Celery's way of changing tasks' options from the settings.

``task_annotations = {"tasks.add": {"max_retries": 5}}`` (``"*"`` for every task), a list of such
dicts and objects, or an object with ``annotate(task)`` returning a dict (or None). A key naming a
task option changes that option; any other key (a hook such as ``on_failure``) is set on the task.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import LiteQueue
    from .task import Task


def annotate(app: LiteQueue, task: Task) -> Task:
    """Apply the app's task_annotations to ``task`` (in place); returns it."""
    annotations = app.conf.task_annotations
    if not annotations:
        return task
    for source in annotations if isinstance(annotations, (list, tuple)) else [annotations]:
        changes = _changes_for(source, task)
        if changes:
            _apply(task, changes)
    return task


def _changes_for(source: Any, task: Task) -> dict | None:
    if isinstance(source, dict):
        return {**source.get("*", {}), **source.get(task.name, {})}
    if callable(getattr(source, "annotate", None)):
        return source.annotate(task)
    if callable(source):
        return source(task)
    raise ConfigurationError(f"task_annotations entries must be dicts or objects with annotate(task), not {source!r}.")


def _apply(task: Task, changes: dict) -> None:
    from .task import TaskOptions

    option_names = {f.name for f in dataclasses.fields(TaskOptions)} - {"name"}
    options = {k: v for k, v in changes.items() if k in option_names}
    if options:
        task.options = TaskOptions.from_kwargs({**_as_dict(task.options), **options})
        task._call_template = None
    for key, value in changes.items():
        if key not in option_names:
            setattr(task, key, value)


def _as_dict(options: Any) -> dict:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
