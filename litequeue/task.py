"""Tasks: ``@app.task``, calling them (``delay`` / ``apply_async``), and ``retry`` from inside."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Generic, NoReturn, ParamSpec, TypeVar, cast

from .arity import check_arguments
from .calling import running_job_id, template_for, with_parent
from .canvas.signature import Signature
from .errors import ConfigurationError, MaxRetriesExceededError, Retry
from .publish_retry import call_retry
from .request import Request, _current_request, current_request, run_with_request
from .retries import RetryPolicy
from .task_attributes import TaskAttributes
from .task_hooks import TaskHooks
from .task_options import NO_EFFECT_OPTIONS, TaskOptions

if TYPE_CHECKING:
    from .app import LiteQueue
    from .calling import CallTemplate
    from .result import AsyncResult

# Kept importable from here, where they lived before request.py and task_options.py.
__all__ = ["NO_EFFECT_OPTIONS", "Request", "Task", "TaskOptions", "class_options", "current_request",
           "run_with_request", "_current_request"]

P = ParamSpec("P")  # the task function's parameters (without ``self`` for bind=True)
R = TypeVar("R")  # what it returns


class Task(TaskAttributes, TaskHooks, Generic[P, R]):
    """A function registered with an app, callable directly or as a background job.

    Typed as ``Task[P, R]`` (the function's parameters and return type), so type checkers check
    ``task(...)``, ``task.delay(...)``, ``task.s(...)`` and ``task.adelay(...)`` against the
    function, and ``task.delay(...).get()`` has its return type.

    Subclass it (``class MyTask(app.Task)``, then ``@app.task(base=MyTask)``) for Celery's
    hooks, which the worker calls around each attempt; class attributes named like task options
    (``max_retries = 5``, ``autoretry_for = (IOError,)``) are the subclass's defaults. A task's
    options read back as Celery's attributes (``add.rate_limit``: see task_attributes.py).

    A class-based task defines ``run`` (and ``name``) itself and is registered with
    ``app.register_task(MyTask())``."""

    def __init__(self, app: LiteQueue | None = None, fun: Callable[..., Any] | None = None,
                 options: TaskOptions | None = None) -> None:
        if fun is None:  # a class-based task: its own run() is the function
            fun = self.run
            own = vars(type(self)).get("name")
            options = options or TaskOptions.from_kwargs(
                {**class_options(type(self)), "name": own if isinstance(own, str) else
                 f"{type(self).__module__}.{type(self).__name__}"})
        self.app: LiteQueue = cast("LiteQueue", app)  # None until register_task, for a class-based task
        self.fun: Callable[..., Any] = fun
        self.options = options or TaskOptions()
        self.name = self.options.name or f"{fun.__module__}.{fun.__name__}"  # Celery's default
        self.__doc__ = fun.__doc__
        self.__name__ = fun.__name__
        self.__module__ = fun.__module__
        self.__wrapped__ = fun
        self._call_template: CallTemplate | None = None  # what delay() reuses (calling.template_for)
        self._reuses_template = type(self) is Task  # a subclass may work its options out per call

    @property
    def retry_policy(self) -> RetryPolicy:
        o = self.options
        limit = o.retry_kwargs.get("max_retries", self.max_retries)
        delay = o.retry_kwargs.get("countdown", o.default_retry_delay)
        return RetryPolicy(limit, delay, o.autoretry_for, o.dont_autoretry_for,
                           o.retry_backoff, o.retry_backoff_max, o.retry_jitter)

    @property
    def request(self) -> Request:
        """The job being run, or an empty request when called directly."""
        return _current_request.get() or Request(task=self.name)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.run(*args, **kwargs)

    def run(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here and now (``bind=True`` passes the task first)."""
        return self.fun(self, *args, **kwargs) if self.options.bind else self.fun(*args, **kwargs)

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult[R]:
        """Send a job with these arguments; returns its AsyncResult."""
        if not self._reuses_template or "apply_async" in self.__dict__:  # overridden, or patched
            return self.apply_async(args, kwargs)
        if self.options.typing:
            self.check_arguments(args, kwargs)
        jobs = template_for(self.app, self.name, self, {}).jobs(args, kwargs or None)
        parent = running_job_id()
        if parent is not None:  # sent by a running task: recorded as its child
            jobs = with_parent(jobs, parent)
        return self.app._publish(self.name, jobs, *call_retry(self.app.conf, {}))

    def apply_async(self, args: tuple | list | None = None, kwargs: dict[str, Any] | None = None,
                    **options: Any) -> AsyncResult[R]:
        """Send a job with options: countdown, eta, expires, priority, queue, routing_key,
        task_id, retry, retry_policy, serializer, time_limit, soft_time_limit, ignore_result, headers."""
        if self.options.typing and isinstance(args or (), (list, tuple)) and isinstance(kwargs or {}, dict):
            self.check_arguments(args or (), kwargs or {})
        return self.app.send_task(self.name, args, kwargs, _task=self, **options)

    def s(self, *args: P.args, **kwargs: P.kwargs) -> Signature[R]:
        """This task's call as a value (a Signature): ``add.s(2, 2).delay()``."""
        return Signature(self, args, kwargs)

    def si(self, *args: P.args, **kwargs: P.kwargs) -> Signature[R]:
        """An immutable signature: arguments given later (a parent's result) are ignored."""
        return Signature(self, args, kwargs, immutable=True)

    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Signature[R]:
        """``task.signature((2, 2), countdown=10)``: a signature with args, kwargs and options."""
        return Signature(self, args, *starargs, **starkwargs)

    subtask = signature

    async def adelay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult[R]:
        """``delay()`` for async code: the enqueue runs off the event loop (litequeue.aio)."""
        from .aio import in_executor

        return await in_executor(self.delay, *args, **kwargs)

    async def aapply_async(self, args: tuple | list | None = None, kwargs: dict[str, Any] | None = None,
                           **options: Any) -> AsyncResult[R]:
        """``apply_async()`` for async code: the enqueue runs off the event loop."""
        from .aio import in_executor

        return await in_executor(self.apply_async, args, kwargs, **options)

    async def amap(self, items: Iterable[Any], **options: Any) -> list[AsyncResult[R]]:
        """``map()`` for async code: one job per item, in one transaction, off the event loop."""
        from .aio import in_executor

        return await in_executor(self.map, list(items), **options)

    async def astarmap(self, items: Iterable[Any], **options: Any) -> list[AsyncResult[R]]:
        """``starmap()`` for async code."""
        from .aio import in_executor

        return await in_executor(self.starmap, list(items), **options)

    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Django: ``delay()`` once the current ``transaction.atomic()`` block commits (never if it
        rolls back; at once outside a transaction). Returns None, as in Celery: nothing is sent yet."""
        from .contrib.django import on_commit

        on_commit(lambda: self.delay(*args, **kwargs))

    def apply_async_on_commit(self, args: tuple | list | None = None, kwargs: dict[str, Any] | None = None,
                              using: str | None = None, **options: Any) -> None:
        """Django: ``apply_async()`` once the current transaction of the database ``using``
        commits. Returns None, as in Celery."""
        from .contrib.django import on_commit

        on_commit(lambda: self.apply_async(args, kwargs, **options), using=using)

    def check_arguments(self, args: tuple | list, kwargs: dict) -> None:
        """Raise TypeError, as calling the function would, when the arguments do not fit its
        signature (Celery's ``typing=True`` check, made at the call rather than in the worker)."""
        check_arguments(self, args, kwargs)

    def map(self, items: Iterable[Any], **options: Any) -> list[AsyncResult[R]]:
        """One job per item, called with that item as its one argument, all sent in one
        transaction. (Celery's ``map`` makes one job of them all; use ``chunks`` for that.)"""
        return self.app.enqueue_many(((self, (item,)) for item in items), **options)

    def starmap(self, items: Iterable[Any], **options: Any) -> list[AsyncResult[R]]:
        """One job per item, called with the item's elements as its arguments (one transaction)."""
        return self.app.enqueue_many(((self, tuple(item)) for item in items), **options)

    def chunks(self, items: Iterable[Any], size: int, **options: Any) -> list[AsyncResult]:
        """Split ``items`` (argument tuples) into jobs of ``size`` calls each; each job's result is
        the list of its calls' results. Sent at once, in one transaction."""
        from .bulk import chunk_calls

        return self.app.enqueue_many(chunk_calls(self, items, size), **options)

    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None,
              throw: bool = True, eta: Any = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any) -> Retry:
        """Ask for this job to run again later: ``raise self.retry(exc=exc, countdown=10)``.

        Past max_retries, re-raises ``exc`` (or MaxRetriesExceededError when there is none).
        """
        from .moments import retry_time

        if args is not None or kwargs is not None or options:
            raise ConfigurationError("retry() runs the job again with its original arguments; "
                                     "changing args, kwargs or options on retry is not supported.")
        request = self.request
        when = retry_time(countdown, eta, self.options.default_retry_delay, self.app.conf.enable_utc)
        limit = max_retries if max_retries is not None else self._retry_limit(request)
        if limit is not None and request.retries >= limit:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"{self.name}[{request.id}] can't retry: it has retried {request.retries} times (max_retries={limit})."
            )
        error = Retry(f"Retry in {max(when - time.time(), 0):.3g}s" + (f": {exc!r}" if exc else ""), exc=exc, when=when)
        if throw:
            raise error
        return error

    def replace(self, sig: Any) -> NoReturn:
        """End the running job and give its place to ``sig`` (a task's signature, a chain, a
        group or a chord), as Celery's ``Task.replace``: ``return self.replace(sig)`` in a bound
        task. Nothing after it runs. The replacement's result becomes the job's (a group's: the
        list of its results), and what followed the job (links, the rest of its chain, its
        place in a group or chord) follows the replacement. See docs/guide/workflows.md."""
        from .canvas.replace import replacing

        raise replacing(self, sig)

    def _retry_limit(self, request: Request) -> int | None:
        """The job's max_retries as sent (apply_async may override the task's), else the task's."""
        return self.max_retries if request.max_retries is ... else request.max_retries  # type: ignore[return-value]

    def is_revoked(self) -> bool:
        """Whether the job running now has been revoked (``revoke(id)`` while it runs): check it
        between steps of long work and stop cleanly. ``revoke(id, terminate=True)`` ends the job
        without asking (a thread of ``-P threads`` is told this way too, as it cannot be killed,
        and so is a ``-P solo`` job where no exception can reach it)."""
        check = self.request.revoked_check
        return bool(check is not None and check())

    def is_aborted(self) -> bool:
        """Celery's ``AbortableTask`` spelling of ``is_revoked()``."""
        return self.is_revoked()

    def update_state(self, task_id: str | None = None, state: str | None = None, meta: Any = None) -> None:
        """Store a custom state (e.g. PROGRESS) and metadata for a running job."""
        self.app.update_state(task_id or self.request.id, state or "PROGRESS", meta)

    def AsyncResult(self, task_id: str) -> AsyncResult:  # noqa: N802 - Celery's name
        return self.app.AsyncResult(task_id)

    def apply(self, args: tuple | list | None = None, kwargs: dict[str, Any] | None = None, **options: Any) -> Any:
        """Run the task here and now, as a worker would (hooks, retries, signals), without the
        store; returns an EagerResult (Celery's ``Task.apply``)."""
        from .eager import apply_locally

        return apply_locally(self, tuple(args or ()), dict(kwargs or {}), options)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"


def class_options(cls: type) -> dict:
    """Task options given as class attributes of a Task subclass (``max_retries = 5``), from
    the classes between ``cls`` and Task, nearest first."""
    names = {f.name for f in fields(TaskOptions)} - {"name"}
    found: dict = {}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(Task)] if Task in cls.__mro__ else ()):
        found.update({k: v for k, v in vars(klass).items() if k in names and not isinstance(v, property)})
    return found


