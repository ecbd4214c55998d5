"""Signatures: a task call as a value (Celery's ``Signature``).

A signature is a plain dict -- ``{"task", "args", "kwargs", "options", "subtask_type",
"immutable", "chord_size"}`` -- so it survives JSON, can be passed as a task argument or kept
in a beat entry, and ``signature(dict)`` turns it back into an object. It carries no execution
logic beyond sending itself: chains, groups and chords are signatures too (subclasses
registered by ``subtask_type``), and what happens after a job is stored with the job.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..current import default_app
from ..errors import InvalidOptionError

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..result import AsyncResult
    from ..task import Task

R = TypeVar("R")  # what the task returns: Signature[R] sends for an AsyncResult[R]
_TYPES: dict[str, type[Signature]] = {}  # subtask_type -> class, for signature(dict)


def _item(key: str, doc: str) -> property:
    return property(lambda self: self[key], lambda self, value: self.__setitem__(key, value), doc=doc)


class Signature(dict, Generic[R]):
    """One task call as a value: ``add.s(2, 2)``, ``signature("tasks.add", args=(2, 2))``.

    ``task.s(...)`` is a ``Signature[R]`` for a task returning ``R``: type checkers check its
    arguments against the task's, and ``.delay()`` / ``.apply_async()`` give an ``AsyncResult[R]``.

    Arguments given when it is called or sent are *prepended* to the stored ones (as in Celery:
    a chain passes each result as the next step's first argument) unless it is immutable
    (``add.si(...)``); keyword arguments are merged; options given then override its own.
    """

    TYPE: str | None = None  # subtask_type of the subclass ("chain", "group", ...)

    task = _item("task", "The task's name.")
    args = _item("args", "Positional arguments (a tuple).")
    kwargs = _item("kwargs", "Keyword arguments.")
    options = _item("options", "apply_async options (queue, countdown, link, ...).")
    subtask_type = _item("subtask_type", "None for a task call, else chain/group/chord/...")
    immutable = _item("immutable", "True: arguments given later are ignored (a .si()).")

    def __init__(self, task: Any = None, args: Any = None, kwargs: Any = None, options: Any = None,
                 type: Any = None, subtask_type: str | None = None, immutable: bool = False,  # noqa: A002
                 app: LiteQueue | None = None, chord_size: int | None = None, **ex: Any) -> None:
        self._app = app
        self._type: Task | None = None
        if isinstance(task, dict):  # Signature({...}) as Celery allows
            super().__init__(copy.deepcopy(dict(task)))
            self["args"] = tuple(self.get("args") or ())
            return
        name = task
        if task is not None and not isinstance(task, str):
            name = getattr(task, "name", None)
            if not isinstance(name, str):
                raise InvalidOptionError(f"A signature names its task by a Task or a task name, not {task!r}.")
            self._type, self._app = task, app or getattr(task, "app", None)
        if args is not None and not isinstance(args, (list, tuple)):
            raise InvalidOptionError(f"A signature's args must be a list or tuple, not {args!r}.")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise InvalidOptionError(f"A signature's kwargs must be a dict, not {kwargs!r}.")
        if options is not None and not isinstance(options, dict):
            raise InvalidOptionError(f"A signature's options must be a dict, not {options!r}.")
        super().__init__(task=name, args=tuple(args or ()), kwargs=dict(kwargs or {}),
                         options={**(options or {}), **ex}, subtask_type=subtask_type or self.TYPE,
                         immutable=bool(immutable), chord_size=chord_size)

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        """The signature (or chain/group/chord) a dict describes, e.g. one read back from JSON."""
        if not isinstance(d, dict) or "task" not in d and "subtask_type" not in d:
            raise InvalidOptionError(f"Not a signature: {d!r} (a dict with a 'task' key is expected).")
        kind = d.get("subtask_type")
        target = _TYPES.get(kind) if kind else Signature
        if target is None:
            raise InvalidOptionError(f"Unknown signature type {kind!r}; known: {sorted(_TYPES)}.")
        if target is Signature:
            return Signature(d, app=app)
        return target.from_dict(d, app=app)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.TYPE:
            _TYPES[cls.TYPE] = cls

    def _merge(self, args: Any = None, kwargs: Any = None, options: dict | None = None) -> tuple:
        """(args, kwargs, options) with the given ones added (prepended/merged/overriding)."""
        new_options = {**self.options, **options} if options else self.options
        if self.immutable or (not args and not kwargs):
            return self.args, self.kwargs, new_options
        return (tuple(args or ()) + tuple(self.args), {**self.kwargs, **(kwargs or {})}, new_options)

    def clone(self, args: Any = None, kwargs: Any = None, **options: Any) -> Signature:
        """A copy, with arguments prepended / merged and options overridden."""
        args, kwargs, options = self._merge(args, kwargs, options)
        s = Signature.from_dict({**self, "args": tuple(args), "kwargs": dict(kwargs),
                                 "options": copy.deepcopy(options)}, app=self._app)
        s._type = self._type
        return s

    partial = clone

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        """Set options in place (``add.s(1, 2).set(countdown=10, queue="hi")``); returns self."""
        if immutable is not None:
            self.immutable = bool(immutable)
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self.immutable = bool(immutable)

    def link(self, callback: dict) -> dict:
        """Run ``callback`` with this job's result as its first argument when it succeeds."""
        return self._append_option("link", callback)

    def link_error(self, errback: dict) -> dict:
        """Run ``errback(request, exc, traceback)`` when this job fails for good."""
        return self._append_option("link_error", errback)

    def on_error(self, errback: dict) -> Signature:
        self.link_error(errback)
        return self

    def _append_option(self, key: str, sig: dict) -> dict:
        sig = maybe_signature(sig, self._app)
        existing = self.options.get(key) or []
        self.options[key] = [*(existing if isinstance(existing, (list, tuple)) else [existing]), sig]
        return sig

    # -- running ------------------------------------------------------------------------------

    @property
    def app(self) -> LiteQueue:
        if self._app is None:
            self._app = default_app()
        return self._app

    @property
    def type(self) -> Task:
        """The task this signature calls, looked up by name in its app."""
        if self._type is None:
            self._type = self.app.get_task(self.task)
        return self._type

    @property
    def id(self) -> str | None:
        """The task_id it will be sent with, once frozen (or set)."""
        return self.options.get("task_id")

    def freeze(self, _id: str | None = None) -> AsyncResult:
        """Fix the task_id it will be sent with; returns that job's AsyncResult (not sent yet)."""
        from ..calling import new_task_id
        from ..result import AsyncResult

        if _id is not None:
            self.options["task_id"] = _id
        elif not self.options.get("task_id"):
            self.options["task_id"] = new_task_id()
        return AsyncResult(self.options["task_id"], app=self.app)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        """Run the task here and now, in this process (as Celery does)."""
        args, kwargs, _ = self._merge(args, kwargs)
        return self.type(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult[R]:
        """Send it, with these arguments added; returns the AsyncResult."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult[R]:
        """Send it, with these arguments added and options overriding its own."""
        args, kwargs, options = self._merge(args, kwargs, {k: v for k, v in options.items() if v is not None})
        return send(self, args, kwargs, options)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Run it here and now and return the result (Celery's eager apply, simplified to the value)."""
        return self(*(args or ()), **(kwargs or {}))

    def __invert__(self) -> R:
        """``~sig``: send it and wait for its result (``sig.delay().get()``); a chain gives its
        last step's result, a group the list of its members'."""
        return self.apply_async().get()

    # -- composing and values ---------------------------------------------------------------------

    def __or__(self, other: Any) -> Any:
        from .workflows import pipe

        return pipe(self, other)

    def __deepcopy__(self, memo: dict) -> Signature:
        return self.clone()

    def __copy__(self) -> Signature:
        return self.clone()

    def __reduce__(self) -> tuple:
        return signature_from_dict, (dict(self),)

    def __repr__(self) -> str:
        return reprcall(self.get("task"), self.get("args") or (), self.get("kwargs") or {}, self.get("immutable"))


def reprcall(name: Any, args: Any, kwargs: dict, immutable: Any = False) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{'%' if immutable else ''}{name}({', '.join(parts)})"


def signature_from_dict(d: dict) -> Signature:
    return Signature.from_dict(d)


def signature(varies: Any, *args: Any, **kwargs: Any) -> Signature:
    """A signature from a task name or Task (``signature("tasks.add", args=(2, 2))``), from a
    dict (one read back from JSON), or a copy of a signature."""
    if isinstance(varies, Signature):
        return varies.clone()
    if isinstance(varies, dict):
        return Signature.from_dict(varies, app=kwargs.get("app"))
    return Signature(varies, *args, **kwargs)


subtask = signature


def maybe_signature(d: Any, app: LiteQueue | None = None) -> Any:
    """``d`` as a Signature when it is a dict (None stays None)."""
    if d is None or isinstance(d, Signature):
        return d
    if isinstance(d, dict):
        return Signature.from_dict(d, app=app)
    raise InvalidOptionError(f"Expected a signature (a dict), not {d!r}.")


def send(sig: Signature, args: tuple, kwargs: dict, options: dict) -> AsyncResult:
    """Send one task call (with links, it is a workflow: see plan.py)."""
    app = sig.app
    if options.get("link") or options.get("link_error"):
        from .plan import send_canvas

        return send_canvas(app, Signature(sig.task, args, kwargs, app=app, **options), (), {}, {})
    task = sig._type if sig._type is not None else app.tasks.get(sig.task)
    return app.send_task(sig.task, args, kwargs, _task=task, **options)

