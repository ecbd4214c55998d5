"""Finding the task for a job's name: the app's registry, else an importable module.function."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import NotRegistered
from ..task import Task, TaskOptions

if TYPE_CHECKING:
    from ..app import LiteQueue


class TaskResolver:
    """Resolves task names for one worker; imported functions are wrapped and cached."""

    def __init__(self, app: LiteQueue, import_by_name: bool = True) -> None:
        self.app = app
        self.import_by_name = import_by_name
        self._cache: dict[str, Task] = {}

    def resolve(self, name: str) -> Task:
        task = self.app.tasks.get(name) or self._cache.get(name)
        if task is None:
            task = self._import(name)
            self._cache[name] = task
        return task

    def find(self, name: str) -> Task | None:
        """Like resolve, but None for an unknown name."""
        try:
            return self.resolve(name)
        except NotRegistered:
            return None

    def _import(self, name: str) -> Task:
        module_name, _, attr = name.rpartition(".")
        obj: Any = None
        if self.import_by_name and module_name and module_name != "__main__":
            try:
                obj = getattr(importlib.import_module(module_name), attr, None)
            except Exception:
                obj = None
            if obj is not None and name in self.app.tasks:  # importing registered it with our app
                return self.app.tasks[name]
        if isinstance(obj, Task):
            return obj
        if callable(obj):
            return Task(self.app, obj, TaskOptions(name=name))
        raise NotRegistered(
            f"Received a job for the unknown task {name!r}. Start the worker with the app that "
            "defines it (-A module), or make sure the module is importable."
        )
