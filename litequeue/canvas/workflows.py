"""chain, group, chord and the bulk signatures (xmap, xstarmap, chunks): signatures whose
``kwargs`` hold other signatures, so a whole workflow is one JSON dict. Sending one is planning
it (``plan.py``) and one store operation; what follows a job is stored with the job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..current import default_app
from ..errors import InvalidOptionError
from .signature import Signature, maybe_signature, reprcall

if TYPE_CHECKING:
    from ..app import LiteQueue
    from ..result import AsyncResult


def _tasks(tasks: tuple, what: str) -> list[Any]:
    """The signatures given as ``f(a, b)`` or ``f([a, b])`` / ``f(generator)``."""
    if len(tasks) == 1 and not isinstance(tasks[0], dict):
        tasks = tuple(tasks[0]) if isinstance(tasks[0], Iterable) else tasks
    out = []
    for t in tasks:
        if not isinstance(t, dict):
            raise InvalidOptionError(f"{what} takes signatures (task.s(...)), not {t!r}.")
        out.append(maybe_signature(t))
    return out


class _Canvas(Signature):
    """A signature made of other signatures (chain, group, chord)."""

    NAME = ""

    def __init__(self, kwargs: dict, options: dict | None, app: LiteQueue | None) -> None:
        super().__init__(self.NAME, (), kwargs, options, app=app, subtask_type=self.TYPE)
        if app is None:
            self._app = next((s._app for s in self._signatures() if s._app is not None), None)

    def _signatures(self) -> list[Signature]:
        raise NotImplementedError

    @property
    def app(self) -> LiteQueue:
        if self._app is None:
            self._app = default_app()
        return self._app

    def __call__(self, *args: Any, **options: Any) -> Any:
        """Send it (Celery's canvas primitives send when called, unlike a task signature)."""
        return self.apply_async(args, **options)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        from .plan import send_canvas

        options = {k: v for k, v in options.items() if v is not None}
        return send_canvas(self.app, self, tuple(args or ()), dict(kwargs or {}), options)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        raise InvalidOptionError(f"{self.TYPE} cannot run in this process; send it with apply_async() "
                                 "or delay() and get() its result.")

    def clone(self, args: Any = None, kwargs: Any = None, **options: Any) -> Signature:
        d = {**self, "kwargs": _clone_kwargs(self["kwargs"]), "options": {**self.options, **options}}
        c = type(self).from_dict(d, app=self._app)
        if args:
            c.args = tuple(args) + tuple(c.args)
        return c

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        raise NotImplementedError


def _clone_kwargs(value: Any) -> Any:
    if isinstance(value, Signature):
        return value.clone()
    if isinstance(value, dict):
        return {k: _clone_kwargs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clone_kwargs(v) for v in value]
    return value


class chain(_Canvas):  # noqa: N801 - Celery's name
    """Steps run one after another, each result the next step's first argument:
    ``chain(add.s(2, 2), add.s(4))()`` or ``add.s(2, 2) | add.s(4)``."""

    TYPE = "chain"
    NAME = "celery.chain"

    def __init__(self, *tasks: Any, app: LiteQueue | None = None, **options: Any) -> None:
        steps: list[Signature] = []
        for t in _tasks(tasks, "chain()"):
            steps += t.tasks if isinstance(t, chain) and not t.options and not t.args else [t]
        super().__init__({"tasks": steps}, options, app)

    tasks = property(lambda self: self["kwargs"]["tasks"])

    def _signatures(self) -> list[Signature]:
        return list(self.tasks)

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        c = cls(*[maybe_signature(t, app) for t in d["kwargs"]["tasks"]], app=app, **(d.get("options") or {}))
        c.args = tuple(d.get("args") or ())
        return c

    def link(self, callback: dict) -> dict:
        """Called with the last step's result."""
        return self.tasks[-1].link(callback) if self.tasks else super().link(callback)

    def link_error(self, errback: dict) -> dict:
        """Called when any step fails."""
        for t in self.tasks:
            t.link_error(errback)
        return errback

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks) if self.tasks else "chain()"


class group(_Canvas):  # noqa: N801 - Celery's name
    """Members run in parallel; the result is a GroupResult of their results, in order:
    ``group(add.s(i, i) for i in range(10))()``."""

    TYPE = "group"
    NAME = "celery.group"

    def __init__(self, *tasks: Any, app: LiteQueue | None = None, **options: Any) -> None:
        super().__init__({"tasks": _tasks(tasks, "group()")}, options, app)

    tasks = property(lambda self: self["kwargs"]["tasks"])

    def _signatures(self) -> list[Signature]:
        return list(self.tasks)

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        g = cls([maybe_signature(t, app) for t in d["kwargs"]["tasks"]], app=app, **(d.get("options") or {}))
        g.args = tuple(d.get("args") or ())
        return g

    def link(self, callback: dict) -> dict:
        """Called with each member's result (as in Celery); for one call with all of them, use a chord."""
        for t in self.tasks:
            t.link(callback)
        return callback

    def link_error(self, errback: dict) -> dict:
        for t in self.tasks:
            t.link_error(errback)
        return errback

    def __len__(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"group([{', '.join(repr(t) for t in self.tasks)}])"


class chord(_Canvas):  # noqa: N801 - Celery's name
    """A group (the header) and a callback (the body) called with the list of the header's
    results, in order, once every member is over: ``chord(header, xsum.s())()``. The join is a
    counter in the store, moved in the transaction that records each member's outcome."""

    TYPE = "chord"
    NAME = "celery.chord"

    def __init__(self, header: Any, body: Any = None, app: LiteQueue | None = None, **options: Any) -> None:
        members = header.tasks if isinstance(header, group) else _tasks((header,), "chord()")
        super().__init__({"header": list(members), "body": maybe_signature(body, app), "kwargs": {}}, options, app)

    header = property(lambda self: self["kwargs"]["header"])
    body = property(lambda self: self["kwargs"]["body"])

    def _signatures(self) -> list[Signature]:
        return list(self.header) + ([self.body] if self.body is not None else [])

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        kw = d["kwargs"]
        c = cls([maybe_signature(t, app) for t in kw["header"]], kw.get("body"), app=app, **(d.get("options") or {}))
        c.args = tuple(d.get("args") or ())
        return c

    def __call__(self, body: Any = None, **options: Any) -> Any:
        """``chord(header)(body)`` or ``chord(header, body)()``: send it."""
        if body is not None:
            self["kwargs"]["body"] = maybe_signature(body, self._app)
        return self.apply_async((), **options)

    def link(self, callback: dict) -> dict:
        return self._body().link(callback)

    def link_error(self, errback: dict) -> dict:
        """Called when the chord fails (a member failed: ChordError) or its callback fails."""
        return self._body().link_error(errback)

    def _body(self) -> Signature:
        if self.body is None:
            raise InvalidOptionError("This chord has no body (callback) yet: chord(header, body).")
        return self.body

    def __repr__(self) -> str:
        return f"chord([{', '.join(repr(t) for t in self.header)}], {self.body!r})"


class _Bulk(Signature):
    """A signature for many calls of one task, sent as one job (Celery's xmap/xstarmap/chunks)."""

    def __init__(self, task: Any, it: Any, app: LiteQueue | None = None, **extra: Any) -> None:
        sig = maybe_signature(task if isinstance(task, dict) else Signature(task), app)
        super().__init__("litequeue.chunk", (), {"task": sig, "it": list(it), **extra},
                         app=app or sig._app, subtask_type=self.TYPE)

    def _items(self) -> list[tuple]:
        raise NotImplementedError

    def _call_args(self) -> tuple:
        """The litequeue.chunk job's arguments: the task name and its argument tuples."""
        return (self["kwargs"]["task"]["task"], self._items())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run every call here and return the list of results."""
        task = self.app.get_task(self["kwargs"]["task"]["task"])
        return [task(*a) for a in self._items()]

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult:
        """Send the calls as one job; its result is the list of their results."""
        return Signature("litequeue.chunk", self._call_args(), app=self.app).apply_async(
            (), None, **{**self.options, **options})

    @classmethod
    def from_dict(cls, d: dict, app: LiteQueue | None = None) -> Signature:
        kw = dict(d["kwargs"])
        s = cls(kw.pop("task"), kw.pop("it"), app=app, **kw)
        s.options.update(d.get("options") or {})
        return s

    def clone(self, args: Any = None, kwargs: Any = None, **options: Any) -> Signature:
        c = type(self).from_dict(dict(self), app=self._app)
        c.options.update(options)
        return c


class xmap(_Bulk):  # noqa: N801 - Celery's name
    """``task.map`` as a signature: one job calling the task once per item (the item its argument)."""

    TYPE = "xmap"

    def _items(self) -> list[tuple]:
        return [(item,) for item in self["kwargs"]["it"]]

    def __repr__(self) -> str:
        return f"[{self['kwargs']['task']['task']}(x) for x in {self['kwargs']['it']!r}]"


class xstarmap(_Bulk):  # noqa: N801 - Celery's name
    """``task.starmap`` as a signature: one job calling the task with each argument tuple."""

    TYPE = "xstarmap"

    def _items(self) -> list[tuple]:
        return [tuple(item) for item in self["kwargs"]["it"]]

    def __repr__(self) -> str:
        return f"[{self['kwargs']['task']['task']}(*x) for x in {self['kwargs']['it']!r}]"


class chunks(_Bulk):  # noqa: N801 - Celery's name
    """Argument tuples split into jobs of ``n`` calls each: ``chunks(add.s(), items, 10)``;
    ``.group()`` gives the group of those jobs (to use in a chord or a chain)."""

    TYPE = "chunks"

    def __init__(self, task: Any, it: Any, n: int = 1, app: LiteQueue | None = None, **extra: Any) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidOptionError(f"chunks() needs a chunk size of at least 1, not {n!r}.")
        super().__init__(task, it, app=app, n=n, **extra)

    def _items(self) -> list[tuple]:
        return [tuple(item) if isinstance(item, (list, tuple)) else (item,) for item in self["kwargs"]["it"]]

    def group(self) -> group:
        """The group of chunk jobs (each result is the list of its calls' results)."""
        name, items, n = self["kwargs"]["task"]["task"], self._items(), self["kwargs"]["n"]
        return group([Signature("litequeue.chunk", (name, items[i:i + n]), app=self._app, **self.options)
                      for i in range(0, len(items), n)], app=self._app)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run every call here; the list of each chunk's list of results."""
        task = self.app.get_task(self["kwargs"]["task"]["task"])
        items, n = self._items(), self["kwargs"]["n"]
        return [[task(*a) for a in items[i:i + n]] for i in range(0, len(items), n)]

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Send the chunk jobs as a group (one transaction); returns the GroupResult."""
        return self.group().apply_async(args, kwargs, **options)

    def __repr__(self) -> str:
        return f"chunks({self['kwargs']['task']['task']}, {len(self['kwargs']['it'])} items, {self['kwargs']['n']})"


def pipe(left: Signature, right: Any) -> Signature:
    """``left | right``: a chain, and a group followed by a task is a chord (as in Celery)."""
    right = maybe_signature(right) if isinstance(right, dict) else right
    if not isinstance(right, Signature):
        return NotImplemented
    if isinstance(left, group) and not isinstance(right, group) and not left.options:
        return chord(left, right, app=left._app)
    if isinstance(left, chord) and left.body is not None and not isinstance(right, group):
        return chain(left, right, app=left._app)
    if isinstance(left, chain) and not left.options and not left.args:
        return chain(*left.tasks, right, app=left._app)
    return chain(left, right, app=left._app)


__all__ = ["chain", "group", "chord", "xmap", "xstarmap", "chunks", "pipe", "reprcall"]
