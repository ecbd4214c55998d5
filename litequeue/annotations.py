"""task_annotations: Celery's way of changing tasks' options from the settings.

``task_annotations = {"tasks.add": {"rate_limit": "10/s"}}`` (``"*"`` for every task), a list of
such dicts, objects with ``annotate(task)`` (returning a dict, or None when they do not apply) and
optionally ``annotate_any()`` (what applies to every task), or the import name of such a class
("proj.annotations.MyAnnotation", made once). A key naming a task option changes that option; a
key starting with ``@`` wraps that method of the task (``"@on_failure": wrapper_maker``); any
other key (a hook such as ``on_failure``) is set on the task.

Which entries apply is Celery's rule: the first entry (in list order) that has something for the
task by its name, then the first that has something for every task, which wins where both set
the same key. Annotations apply after the task's own options, so they win over the decorator's.
A plain function of the task (returning a dict or None) is accepted too, as an ``annotate``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .config import Settings
    from .task import Task


def annotate(conf: Settings, task: Task) -> Task:
    """Apply the task_annotations setting of ``conf`` to ``task`` (in place); returns it."""
    annotations = conf.task_annotations
    if not annotations:
        return task
    sources = [_expand(source) for source in (annotations if isinstance(annotations, (list, tuple))
                                              else [annotations])]
    for changes in (_first(sources, task), _first_any(sources)):
        if changes:
            _apply(task, dict(changes))
    return task


def _expand(source: Any) -> Any:
    if isinstance(source, str):
        return _instantiate(source)
    if isinstance(source, dict) or callable(getattr(source, "annotate", None)) or callable(source):
        return source
    raise ConfigurationError(
        f"task_annotations entries must be dicts, objects with annotate(task), or the import name of such a "
        f"class, not {source!r}.")


_made: dict[str, Any] = {}


def _instantiate(name: str) -> Any:
    """The annotation class ``name`` names ("module.Class" or "module:Class"), made once."""
    from .config import import_object

    if name not in _made:
        path = name if ":" in name else ":".join(name.rsplit(".", 1))
        cls = import_object(path)
        if not callable(cls):
            raise ConfigurationError(f"task_annotations names {name!r}, which is not a class; name a class whose "
                                     "instances have annotate(task).")
        _made[name] = _expand(cls())
    return _made[name]


def _first(sources: list, task: Task) -> dict | None:
    """What the first entry with something for ``task`` by its name gives it."""
    for source in sources:
        if isinstance(source, dict):
            found = source.get(task.name)
        elif callable(getattr(source, "annotate", None)):
            found = source.annotate(task)
        else:
            found = source(task)
        if found is not None:
            return found
    return None


def _first_any(sources: list) -> dict | None:
    """What the first entry with something for every task gives."""
    for source in sources:
        if isinstance(source, dict):
            found = source.get("*")
        elif callable(getattr(source, "annotate_any", None)):
            found = source.annotate_any()
        else:
            continue
        if found is not None:
            return found
    return None


def _apply(task: Task, changes: dict) -> None:
    from .task import TaskOptions

    option_names = {f.name for f in dataclasses.fields(TaskOptions)} - {"name"}
    options = {k: v for k, v in changes.items() if k in option_names}
    if options:
        task.options = TaskOptions.from_kwargs({**_as_dict(task.options), **options})
        task._call_template = None
    others = {k: v for k, v in changes.items() if k not in option_names}
    if others:
        cls = _own_class(task)
        for key, value in others.items():
            if key.startswith("@"):
                _wrap(cls, key[1:], value)
            else:
                setattr(cls, key, value)  # a function becomes a method, as in Celery: hooks get self


def _own_class(task: Task) -> type:
    """The task's own subclass of its class (made on first use), where annotations set hooks and
    attributes, as Celery sets them on each task's class: other tasks of the class keep theirs."""
    cls = type(task)
    if vars(cls).get("_annotated_task") != task.name:
        cls = type(cls.__name__, (cls,), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                          "_annotated_task": task.name})
        task.__class__ = cls
        task._reuses_template = False  # its methods may be wrapped: calls go through them
    return cls


def _wrap(cls: type, name: str, around: Any) -> None:
    """``"@name": around``: the method ``name`` becomes ``around(method)`` (annotating again wraps
    the original, not the wrapper)."""
    original = getattr(cls, name, None)
    if not callable(original):
        raise ConfigurationError(f"task_annotations key '@{name}': the task has no method {name!r} to wrap; "
                                 "'@' keys name a method (e.g. '@on_failure') and give a function of it.")
    if not callable(around):
        raise ConfigurationError(f"task_annotations key '@{name}' must give a function that takes the method and "
                                 f"returns its replacement, not {around!r}.")
    original = getattr(original, "__wrapped__", None) or original
    wrapped = around(original)
    wrapped.__wrapped__ = original
    setattr(cls, name, wrapped)


def _as_dict(options: Any) -> dict:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
