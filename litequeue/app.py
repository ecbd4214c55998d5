"""LiteQueue: the app. Settings, the task registry, sending jobs, and the store it opens."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from . import pids, publishing, serialization
from .annotations import annotate
from .app_celery import CeleryAppSurface
from .brokers import check_backend, store_url
from .bulk import enqueue_many, register_chunk_task
from .calling import build_jobs, parent_of_call, with_parent
from .canvas.followups import ChordJoiner
from .canvas.replace import register_accumulate_task
from .config import Settings
from .control import Control
from .current import _apps
from .current import default_app as default_app  # litequeue.app.default_app stays importable
from .errors import ConfigurationError, NotRegistered
from .publish_retry import call_retry, with_publish_retry
from .result import AsyncResult
from .routing import Routing
from .shared import register_shared_tasks
from .store import Store, open_store
from .task import Task, TaskOptions, class_options

if TYPE_CHECKING:
    from .canvas import Signature
    from .store import NewJob
    from .worker.inprocess import InProcessWorker

P = ParamSpec("P")
R = TypeVar("R")


def _fields_of(options: TaskOptions) -> dict:
    import dataclasses

    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


class LiteQueue(CeleryAppSurface):
    """A job queue whose broker, result store and schedule are one database.

    ``LiteQueue("app.sqlite")`` (a path or ``sqlite:///path`` URL; created on first use). Settings
    use Celery's names: ``LiteQueue(path, task_default_queue="jobs")`` or ``app.conf.update(...)``.
    """

    def __init__(self, url: str | os.PathLike | None = None, *, main: str | None = None,
                 share_database: bool = False, readonly: bool = False, **settings: Any) -> None:
        self._url = store_url(url, "the database") if url is not None else None
        self.Task: type[Task] = Task  # the base class of this app's tasks (Celery's app.Task)
        self.main = main
        self.share_database = share_database
        self.readonly = readonly  # open the store read-only (monitoring): see store.open_store
        self.conf = Settings()
        self._init_surface()
        self.conf.update(settings)
        self.tasks: dict[str, Task] = {}
        self.routing = Routing(self.conf)
        self._stores: dict[tuple[int, str], Store] = {}
        self._lock = threading.Lock()
        register_chunk_task(self)
        register_accumulate_task(self)
        register_shared_tasks(self)
        _apps.append(self)

    # -- the store ------------------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        """The store's URL: the one given to the app (or on the command line), else the
        broker_url setting, else the CELERY_BROKER_URL environment variable (what
        ``conf.broker_url`` reads; for a Celery app, the variable wins over the setting)."""
        return self._url if self._url is not None else self.conf.broker_url

    @url.setter
    def url(self, value: str | os.PathLike | None) -> None:
        self._url = store_url(value, "the database") if value is not None else None

    @property
    def store(self) -> Store:
        """This process's store (opened on first use; a forked child opens its own)."""
        if self.url is None:
            raise ConfigurationError(
                "This app has no database; create it with LiteQueue('app.sqlite') or pass the "
                "database path on the command line."
            )
        key = (pids.current(), self.url)
        store = self._stores.get(key)
        if store is None:
            with self._lock:
                store = self._stores.get(key)
                if store is None:
                    check_backend(self.conf.result_backend, self.url)
                    store = open_store(self.url, self.conf, self.share_database, self.readonly)
                    store.joiner = ChordJoiner(self)  # builds chord callbacks inside the store's join
                    self._stores[key] = store
        return store

    def transaction(self) -> AbstractContextManager[Any]:
        """``with app.transaction() as db:`` -- jobs sent inside commit or roll back with the
        block, and workers hear of them only after the commit. ``db`` is the store's database
        connection (a peewee Database): run the application's own statements on it so they join
        the same transaction (on SQLite, keep the app's tables in the same file and open the app
        with share_database=True)."""
        return self.store.transaction()

    def close(self) -> None:
        """Close this process's connections to the store."""
        for key, store in list(self._stores.items()):
            if key[0] == pids.current():
                store.close()
                del self._stores[key]

    # -- tasks ----------------------------------------------------------------------------------

    @overload
    def task(self, fun: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(self, *, bind: Literal[True], **options: Any) -> Callable[[Callable[Concatenate[Any, P], R]], Task[P, R]]:
        ...

    @overload
    def task(self, *, bind: Literal[False] = ..., **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(self, *args: Any, **options: Any) -> Any:  # typed by the overloads above
        """Register a function as a task: ``@app.task`` or ``@app.task(name=..., bind=True, ...)``."""
        if args and callable(args[0]) and len(args) == 1:  # @app.task, or app.task(fun, **options)
            return self._declare(args[0], options)
        if args:
            raise ConfigurationError("Use @app.task or @app.task(option=value, ...); options are keywords.")
        # Checked when applied to the function, so messages can name the task.
        return lambda fun: self._declare(fun, options)

    def _declare(self, fun: Callable[..., Any], options: dict) -> Task:
        """Register ``fun`` with ``@app.task`` options: ``base=`` picks the Task class, whose
        option-named class attributes are defaults; task_annotations apply last."""
        options = dict(options)
        cls = options.pop("base", None) or self.Task
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise ConfigurationError(f"@app.task(base=...) must be a subclass of app.Task, not {cls!r}.")
        merged = {**class_options(cls), "name": self.gen_task_name(fun), **options}
        checked = TaskOptions.from_kwargs(merged) if len(merged) > 1 else TaskOptions(name=merged["name"])
        return self._register(fun, checked, cls)

    def gen_task_name(self, fun: Callable[..., Any]) -> str:
        """A task's default name, ``module.qualname``; in a script run as ``__main__``, the app's
        ``main`` stands for the module (as in Celery), so the worker started by ``python app.py
        worker`` and a program importing ``app`` agree on the names."""
        module = fun.__module__
        if module in ("__main__", "__mp_main__") and self.main:
            module = self.main
        return f"{module}.{fun.__name__}"

    def _register(self, fun: Callable[..., Any], options: TaskOptions, cls: type[Task] = Task) -> Task:
        task: Task = annotate(self.conf, cls(self, fun, options))
        self.tasks[task.name] = task
        return task

    def register_task(self, task: Task | type[Task], **options: Any) -> Task:
        """Register a class-based task (Celery's ``app.register_task(MyTask())``): a Task
        subclass defining ``run``, named by its ``name`` attribute (else module.ClassName)."""
        if isinstance(task, type):
            task = task()
        if not isinstance(task, Task) or type(task).run is Task.run:
            raise ConfigurationError(f"register_task takes an instance of a Task subclass that defines run(), "
                                     f"not {task!r}.")
        task.app = self
        if options:
            task.options = TaskOptions.from_kwargs({**_fields_of(task.options), **options})
        self.tasks[task.name] = annotate(self.conf, task)
        return task

    def get_task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            raise NotRegistered(
                f"No task named {name!r} is registered with this app. Check the name, or import "
                "the module that defines it (litequeue worker -A module)."
            ) from None

    # -- sending ---------------------------------------------------------------------------------

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, *, _task: Task | None = None,
                  **options: Any) -> AsyncResult:
        """Send a job of the task called ``name`` without importing it; returns its AsyncResult."""
        if "link" in options or "link_error" in options:  # a call with callbacks: a workflow
            from .canvas import Signature, send_canvas

            sig: Signature[Any] = Signature(_task or name, args, kwargs, app=self)
            return send_canvas(self, sig, (), {}, options)
        retry, policy = call_retry(self.conf, options)
        parent = parent_of_call(options)
        jobs = build_jobs(self, name, args, kwargs, _task or self.tasks.get(name), options)
        if parent is not None:
            jobs = with_parent(jobs, parent)
        return self._publish(name, jobs, retry, policy)

    def _publish(self, name: str, jobs: list[NewJob], retry: bool, policy: dict) -> AsyncResult:
        """Store the jobs of one call (retrying per the publish policy), with the publish
        signals around it; the AsyncResult of the first."""
        jobs = publishing.before(jobs)
        duplicates = with_publish_retry(self.store.enqueue, retry, policy, jobs) or {}
        publishing.after(jobs)
        if self.conf.task_always_eager:
            from .testing import run_eagerly

            for job in jobs:  # every copy of a job routed to several queues
                if job.task_id not in duplicates:
                    run_eagerly(self, job.task_id)
        return AsyncResult(duplicates.get(jobs[0].task_id, jobs[0].task_id), app=self)  # a duplicate: the job there

    def enqueue_many(self, calls: Iterable[Any], **options: Any) -> list[AsyncResult]:
        """Send many jobs in one transaction (all stored, or none); one AsyncResult per call.

        Each call is ``(task, args)``, ``(task, args, kwargs)`` or ``(task, args, kwargs, options)``
        with ``task`` a Task or a task name; ``options`` (any apply_async option) apply to all."""
        return enqueue_many(self, calls, options)

    async def asend_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult:
        """``send_task()`` for async code: the enqueue runs off the event loop (litequeue.aio)."""
        from .aio import in_executor

        return await in_executor(self.send_task, name, args, kwargs, **options)

    async def aenqueue_many(self, calls: Iterable[Any], **options: Any) -> list[AsyncResult]:
        """``enqueue_many()`` for async code: one transaction, off the event loop."""
        from .aio import in_executor

        return await in_executor(self.enqueue_many, list(calls), **options)

    def AsyncResult(self, task_id: str) -> AsyncResult:  # noqa: N802 - Celery's name
        return AsyncResult(task_id, app=self)

    def signature(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature bound to this app: ``app.signature("tasks.add", args=(2, 2))``."""
        from .canvas import signature

        return signature(*args, app=self, **kwargs)

    def update_state(self, task_id: str | None, state: str, meta: Any = None) -> None:
        """Store a custom state and metadata for a running job (what task.update_state calls)."""
        if not task_id:
            raise ConfigurationError("update_state needs a task_id outside a running task.")
        content_type = serialization.content_type_for(self.conf.result_serializer)
        self.store.set_state(task_id, state, serialization.dumps(meta, content_type), content_type)

    def worker(self, **options: Any) -> InProcessWorker:
        """A worker running in a background thread of this program (pool, heartbeats, eta,
        retries): ``with app.worker(concurrency=2): ...`` or ``w = app.worker(); w.start()``
        ... ``w.stop()``. Options: concurrency, queues, exclude, name, time_limit,
        soft_time_limit, max_tasks_per_child, max_memory_per_child, start_method."""
        from .worker.inprocess import InProcessWorker

        return InProcessWorker(self, **options)

    # -- configuration -----------------------------------------------------------------------------

    def reader(self) -> LiteQueue:
        """This app for reading only (monitoring): the same settings and tasks, with a store of its
        own opened read-only (see ``store.open_store``). The app itself is left as it was."""
        view = copy.copy(self)
        view.readonly, view._stores, view._lock = True, {}, threading.Lock()
        return view

    @property
    def control(self) -> Control:
        return Control(self)

    def __repr__(self) -> str:
        return f"<LiteQueue {self.main or ''} {self.url}>"

