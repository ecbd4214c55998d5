"""``shared_task``: a task declared without an app (in a reusable app's ``tasks.py``), as in Celery.

It is registered with every app that exists and every app created later, and the decorated name
is a proxy to the task of the current app (the most recently created one): ``add.delay(2, 2)``
sends through whichever app the project made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .current import _apps, default_app
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import LiteQueue
    from .task import Task

_declared: list[tuple[Callable[..., Any], dict]] = []


def shared_task(*args: Any, **options: Any) -> Any:
    """``@shared_task`` or ``@shared_task(bind=True, ...)``: the options of ``@app.task``."""
    if args and callable(args[0]) and len(args) == 1:
        return _share(args[0], options)
    if args:
        raise ConfigurationError("Use @shared_task or @shared_task(option=value, ...); options are keywords.")
    return lambda fun: _share(fun, options)


def register_shared_tasks(app: LiteQueue) -> None:
    """Register every shared task with ``app`` (a new app)."""
    for fun, options in _declared:
        app._declare(fun, options)


def _share(fun: Callable[..., Any], options: dict) -> SharedTask:
    _declared.append((fun, options))
    for app in _apps:
        app._declare(fun, options)
    return SharedTask(fun, options)


class SharedTask:
    """Stands for the shared task of the current app; every attribute is that task's."""

    def __init__(self, fun: Callable[..., Any], options: dict) -> None:
        self.__wrapped__ = fun
        self._options = options
        self.__doc__, self.__name__, self.__module__ = fun.__doc__, fun.__name__, fun.__module__

    def _task(self) -> Task:
        app = default_app()
        name = self._options.get("name") or app.gen_task_name(self.__wrapped__)
        return app.tasks.get(name) or app._declare(self.__wrapped__, self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._task()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<@shared_task: {self.__module__}.{self.__name__}>"
