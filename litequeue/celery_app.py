"""``litequeue.Celery``: Celery's app constructor over LiteQueue.

``Celery('proj', broker='sqlite:///proj.sqlite', include=['proj.tasks'])`` is a LiteQueue app:
the broker URL names its store, the first argument is the app's main module name (never a path),
and the other keywords are settings with Celery's names. Celery's settings load as Celery reads
them (``CELERY_BROKER_URL`` from the environment wins over the broker given in code).
"""

from __future__ import annotations

import logging
from typing import Any

from .app import LiteQueue
from .current import _apps
from .errors import ConfigurationError

log = logging.getLogger("litequeue.app")

# Celery constructor arguments that plug in classes of Celery's own machinery.
_CUSTOM_CLASSES = ("loader", "amqp", "events", "log", "control", "tasks")


class Celery(LiteQueue):
    """Celery's app: ``Celery(main=None, broker=None, backend=None, include=None, **settings)``.

    ``broker`` (or ``broker_url``): ``sqlite:///relative.sqlite``, ``sqlite:////absolute.sqlite``,
    a path, or ``postgresql://...``. ``backend`` (``result_backend``) may be left out, be
    ``rpc://``, or name the same store: results live with the jobs. ``config_source`` and
    ``changes`` load settings as ``config_from_object`` and ``conf.update`` would."""

    def __init__(self, main: str | None = None, loader: Any = None, backend: Any = None, amqp: Any = None,
                 events: Any = None, log: Any = None, control: Any = None, set_as_current: bool = True,
                 tasks: Any = None, broker: Any = None, include: Any = None, changes: dict | None = None,
                 config_source: Any = None, fixups: Any = None, task_cls: Any = None, autofinalize: bool = True,
                 namespace: str | None = None, strict_typing: bool = True, **settings: Any) -> None:
        given = dict(loader=loader, amqp=amqp, events=events, log=log, control=control, tasks=tasks)
        custom = [name for name in _CUSTOM_CLASSES if given[name] is not None]
        if custom:
            raise ConfigurationError(f"Celery({custom[0]}=...) plugs in Celery's own machinery, which litequeue "
                                     "does not have; remove the argument.")
        settings = {**(changes or {}), **settings}
        for key, value in (("broker_url", broker), ("result_backend", backend), ("include", include)):
            if value is not None:
                settings[key] = value
        if main is not None and not isinstance(main, str):
            raise ConfigurationError(f"Celery(main) is the app's module name, like Celery('proj'), not {main!r}; "
                                     "give the database as broker='sqlite:///proj.sqlite'.")
        super().__init__(None, main=main, **settings)
        self.conf.prefer_environment()  # $CELERY_BROKER_URL wins over the code, as in Celery
        if task_cls is not None:
            self.Task = _task_class(task_cls)
        if not set_as_current:  # another app stays the current one (shared_task, AsyncResult(id))
            _apps.insert(0, _apps.pop())
        if fixups:
            log.warning("Celery(fixups=...) has no effect with litequeue: under Django, autodiscover_tasks() "
                        "sets Django up itself.")
        self.namespace = namespace
        self.strict_typing = strict_typing
        if config_source is not None:
            self.config_from_object(config_source, namespace=namespace)
        for other in _same_main(self):
            for name, task in other.tasks.items():
                self.tasks.setdefault(name, task)

    def _register(self, fun: Any, options: Any, cls: Any = None) -> Any:
        """Register as LiteQueue does, and with the other apps of the same ``main`` in this
        process: ``python -m proj.celery worker`` runs proj/celery.py as ``__main__``, and its
        ``include`` imports it again as ``proj.celery``, a second app that the tasks are declared
        on. Celery shares tasks between its apps for the same reason."""
        task = super()._register(fun, options, cls) if cls is not None else super()._register(fun, options)
        for other in _same_main(self):
            other.tasks.setdefault(task.name, task)
        return task

    def __repr__(self) -> str:
        return f"<Celery {self.main or '__main__'} {self.url}>"


def _task_class(value: Any) -> type:
    """Celery(task_cls=...): a Task subclass or its "module:Class" / dotted name."""
    from .config import import_object
    from .task import Task

    cls = import_object(value) if isinstance(value, str) else value
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ConfigurationError(f"Celery(task_cls=...) must be a subclass of litequeue.Task, not {value!r}.")
    return cls


def _same_main(app: Celery) -> list[LiteQueue]:
    return [other for other in _apps if other is not app and app.main and isinstance(other, Celery)
            and other.main == app.main]
