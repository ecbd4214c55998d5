"""AsyncResult: a handle on a job's state and outcome, read from the store."""

from __future__ import annotations

import builtins
import datetime as dt
import sys
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import serialization, states
from .current import _apps, default_app
from .display import utc_datetime
from .errors import TaskError, TaskIgnoredError, TaskRevokedError, TimeoutError

if TYPE_CHECKING:
    from .app import LiteQueue
    from .store import Job


if TYPE_CHECKING:  # a default (PEP 696), so that a bare AsyncResult(id) is AsyncResult[Any]
    from typing_extensions import TypeVar as DefaultTypeVar

    R = DefaultTypeVar("R", default=Any)
else:
    R = TypeVar("R")


UNREAD: Any = object()  # a result's parent not known yet: read from the store when asked


class AsyncResult(Generic[R]):
    """The state and result of the job with id ``id``. Each property reads the store afresh.

    ``AsyncResult[R]``: ``get()`` returns the task's return type (``task.delay()`` gives one)."""

    _parent: Any = UNREAD  # given when a workflow is sent; else read from the store (``parent``)

    def __init__(self, id: str, app: LiteQueue | None = None, parent: Any = UNREAD) -> None:  # noqa: A002
        self.id = str(id)  # (``id``: Celery's name)
        if app is None:
            app = default_app()
        self.app = app
        if parent is not UNREAD:
            self._parent = parent

    @property
    def parent(self) -> Any:
        """The result of what started this job, as Celery's ``parent``: the step before it in a
        chain, the job it is a link of, or the task that sent it while running (an AsyncResult);
        for a chord's callback, the GroupResult of its header. None when nothing started it.
        Known when a workflow is sent; for a result made from an id, read from the store."""
        if self._parent is UNREAD:
            from .canvas.results import stored_result

            found = self.app.store.parent_of(self.id)
            if found is None:
                return None  # (not kept: a step not sent yet gets its parent when it is)
            self._parent = stored_result(self.app, found.id, found.members)
        return self._parent

    @parent.setter
    def parent(self, value: Any) -> None:
        self._parent = value

    @property
    def children(self) -> list[Any] | None:
        """The results of the jobs this job started, in the order they were sent, as Celery's
        ``children``: its chain's next step, its links, and what its task sent while running (a
        group sent there is one GroupResult). Read from the store in one query; None when no
        such job is stored. (Celery records them when the job ends; the store knows them from
        the moment each is sent.)"""
        from .canvas.results import stored_result

        found = self.app.store.children_of(self.id)
        if not found and self._job() is None:
            return None
        return [stored_result(self.app, child.id, child.members, parent=self) for child in found]

    task_id = property(lambda self: self.id)

    def _job(self) -> Job | None:
        return self.app.store.get(self.id)

    @property
    def state(self) -> str:
        """Celery's state: PENDING (not begun: waiting, scheduled or claimed ahead; or unknown),
        STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or a custom state such as PROGRESS. A job whose
        task raised Ignore reads the custom state it stored with update_state, else PENDING."""
        job = self._job()
        return states.celery_state(finer_state(job), job.custom_state if job else None)

    status = state

    @property
    def job_state(self) -> str:
        """litequeue's finer state: QUEUED (due, waiting for a worker), SCHEDULED (waiting for its
        eta), RESERVED (claimed ahead by a worker), STARTED, RETRY, REPLACED (its task called
        self.replace: the replacement's last job is not sent yet), SUCCESS, FAILURE, REVOKED,
        IGNORED (its task raised Ignore), a custom state, or PENDING (no such job)."""
        return finer_state(self._job())

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    @property
    def result(self) -> Any:
        """The return value when SUCCESS, the exception when FAILURE/RETRY, the meta of a custom state."""
        job = self._job()
        return None if job is None else self._value(job)

    info = result

    @property
    def traceback(self) -> str | None:
        job = self._job()
        return job.traceback if job else None

    @property
    def date_done(self) -> dt.datetime | None:
        job = self._job()
        return utc_datetime(job.done_at) if job and job.done_at else None

    @property
    def retries(self) -> int:
        job = self._job()
        return job.retries if job else 0

    @property
    def history(self) -> list[dict]:
        """One entry per failed attempt: time, worker, exception type, message, traceback."""
        job = self._job()
        return list(job.history) if job else []

    @property
    def name(self) -> str | None:
        job = self._job()
        return job.task if job else None

    @property
    def worker(self) -> str | None:
        job = self._job()
        return job.worker if job else None

    @property
    def job(self) -> Job | None:
        """Everything the store holds about the job (a read-only value)."""
        return self._job()

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.05,
            no_ack: bool = True, follow_parents: bool = True, disable_sync_subtasks: bool = True) -> R:
        """Wait until the job is over and return its result.

        Raises the task's exception (with the remote traceback as ``__notes__``) when it failed
        and ``propagate`` is true, TaskRevokedError when it was revoked, and TimeoutError when
        ``timeout`` seconds pass first. Inside a task run by a worker it raises RuntimeError, as
        Celery does (waiting there can deadlock the pool), unless ``disable_sync_subtasks=False``.
        """
        if disable_sync_subtasks:
            assert_will_not_block()
        result, job = self._wait(timeout, interval)
        return result._outcome(job, propagate)

    wait = get

    def _wait(self, timeout: float | None, interval: float,
              stop_early: Callable[[Job | None], tuple[AsyncResult, Job] | None] | None = None,
              ) -> tuple[AsyncResult, Job]:
        """Poll (1 ms, doubling up to ``interval``) until the job is over: (self, its job). When
        ``stop_early(the job as just read)`` returns (a result, its job) first, that pair: the
        wait is over for another reason (an earlier step of its chain failed). TimeoutError
        after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while True:
            job = self._job()
            if job is not None and job.state in states.READY_STATES:
                return self, job
            stopped = stop_early(job) if stop_early is not None else None
            if stopped is not None:
                return stopped
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Job {self.id} is still {job.state if job else states.PENDING} after {timeout}s; "
                    "wait longer, or check that a worker consuming its queue is running."
                )
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, interval)

    async def aget(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.05) -> R:
        """``get()`` for async code: waits without blocking the event loop and without a thread
        per waiter (one poller per loop reads every awaited job; see litequeue.aio)."""
        from .aio import wait_until_ready

        job = await wait_until_ready(self.app, self.id, timeout, interval)
        if job is None:
            state = await self.astate()
            raise TimeoutError(
                f"Job {self.id} is still {state} after {timeout}s; "
                "wait longer, or check that a worker consuming its queue is running."
            )
        return self._outcome(job, propagate)

    async def astate(self) -> str:
        """``state``, read without blocking the event loop."""
        from .aio import in_executor

        return await in_executor(lambda: self.state)

    def forget(self) -> None:
        """Delete the stored result (the job must be over)."""
        self.app.store.forget(self.id)

    def revoke(self, terminate: bool = False) -> None:
        """Cancel the job; with ``terminate``, also stop it if it is running."""
        self.app.control.revoke(self.id, terminate=terminate)

    def _outcome(self, job: Job, propagate: bool) -> Any:
        if job.state == states.IGNORED:  # whatever ``propagate``: there is no value to return, ever
            raise ignored_error(job.task_id, job.task, states.celery_state(job.state, job.custom_state))
        if job.state == states.REVOKED:
            if propagate:
                raise TaskRevokedError(f"Job {self.id} ({job.task}) was revoked: {job.exc_message or 'cancelled'}.")
            return None
        value = self._value(job)
        if job.state == states.FAILURE and propagate:
            raise value
        return value

    def _value(self, job: Job) -> Any:
        if job.state in (states.FAILURE, states.RETRY, states.REVOKED) and job.exc_type:
            return rebuild_exception(job.exc_type, job.exc_message or "", job.traceback, self._exception_args(job),
                                     self.app)
        if job.state in CUSTOM_STATE_SHOWN and job.custom_state:
            return self._decode(job.meta, job.result_type)
        if job.state == states.SUCCESS:
            return self._decode(job.result, job.result_type)
        return None

    def _exception_args(self, job: Job) -> list | None:
        """The failed attempt's exception arguments (stored as JSON by the worker), if any."""
        if job.result is None or job.result_type != serialization.JSON:
            return None
        try:
            args = serialization.loads(job.result, serialization.JSON, frozenset({serialization.JSON}))
        except Exception:
            return None
        return args if isinstance(args, list) else None

    def _decode(self, data: bytes | None, content_type: str | None) -> Any:
        accept = serialization.accepted_types(self.app.conf.accept_content)
        return serialization.loads(data, content_type or serialization.JSON, accept | {serialization.JSON})

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncResult) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


# The job states in which a custom state stored with update_state is what Celery code reads.
CUSTOM_STATE_SHOWN = frozenset({*states.LEASED_STATES, states.IGNORED})


def finer_state(job: Job | None) -> str:
    """litequeue's state of ``job`` as read (None: no such job): its stored state, a running
    job's custom state, or SCHEDULED for a job waiting for its eta."""
    if job is None:
        return states.PENDING
    if job.state in states.LEASED_STATES and job.custom_state:
        return job.custom_state
    if job.state == states.QUEUED and job.eta is not None and job.eta > time.time():
        return states.SCHEDULED
    return job.state


def ignored_error(task_id: str, task: str | None, state: str = states.PENDING) -> TaskIgnoredError:
    """What waiting for the result of job ``task_id`` (of ``task``), whose task raised Ignore, raises;
    ``state``: what its AsyncResult.state reads."""
    return TaskIgnoredError(f"Job {task_id}{f' ({task})' if task else ''} raised Ignore, so it has no result and "
                            f"never will (Celery would wait for it forever). Its state reads {state}: read what "
                            "it reported from AsyncResult.state and .info, or have the task return a value instead.")


def assert_will_not_block() -> None:
    """Raise RuntimeError when called inside a task a worker is running (Celery's rule for get())."""
    from .task import current_request

    request = current_request()
    if request is not None and not request.called_directly and not request.is_eager:
        raise RuntimeError(
            "Never call result.get() inside a task: every worker child could end up waiting for a job "
            "that only a free child could run. Chain the tasks instead (the next task gets this one's "
            "result), or pass disable_sync_subtasks=False if the job waited on runs elsewhere.")


def rebuild_exception(type_name: str, message: str, traceback: str | None,
                      args: list | None = None, app: LiteQueue | None = None) -> BaseException:
    """The stored exception as an instance of its class, made with its stored ``args`` (else its
    message), when that class is an exception the application itself knows (see
    ``_known_module``); otherwise a TaskError carrying the type's name. Nothing is imported, and
    nothing but such an exception class is ever called: the type name comes from a row anyone
    with write access to the store may have written."""
    cls = _exception_class(type_name, app)
    exc: BaseException | None = None
    for call_args in ((args,) if args is not None else ()) + ([message],):
        try:
            exc = cls(*call_args) if cls is not None else None
        except Exception:
            continue
        break
    if exc is None:
        exc = TaskError(type_name, message)
    if traceback:
        exc.add_note("Remote traceback:\n" + traceback)
    return exc


def _exception_class(type_name: str, app: LiteQueue | None) -> type[BaseException] | None:
    module_name, _, qualname = type_name.rpartition(".")
    module_name = module_name or "builtins"
    if not _known_module(module_name, app):
        return None
    try:
        obj: Any = builtins if module_name == "builtins" else sys.modules[module_name]
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    if isinstance(obj, type) and issubclass(obj, Exception):
        return obj
    return None


def _known_module(name: str, app: LiteQueue | None) -> bool:
    """Whether exceptions of module ``name`` may be rebuilt: builtins, the standard library,
    litequeue, and what the application itself imported (see ``_application_modules``)."""
    top = name.partition(".")[0]
    if top in ("builtins", "litequeue") or top in sys.stdlib_module_names:
        return True
    for known in [app] if app is not None else _every_app():
        if top in _application_packages(known) or any(
                name == imported or name.startswith(imported + ".") for imported in _application_modules(known)):
            return True
    return False


def _every_app() -> list[LiteQueue]:
    """The apps of this process (when the caller names none: a group's results, a serializer)."""
    return list(_apps)


def _application_packages(app: LiteQueue) -> set[str]:
    """The top-level packages of the modules defining the app's tasks (the application's code)."""
    return {module.partition(".")[0] for module in _task_modules(app) if module not in ("__main__", "__mp_main__")}


def _task_modules(app: LiteQueue) -> set[str]:
    return {task.__module__ for task in list(app.tasks.values())} | {"__main__"}


def _application_modules(app: LiteQueue) -> set[str]:
    """Modules the application's own modules (those defining its tasks, and the main script)
    imported: modules bound in their namespaces, and the modules of classes bound there."""
    found: set[str] = set()
    for name in _task_modules(app):
        module = sys.modules.get(name)
        for value in list(vars(module).values()) if module is not None else ():
            if isinstance(value, types.ModuleType):
                found.add(value.__name__)
            elif isinstance(value, type):
                found.add(value.__module__)
    return found
