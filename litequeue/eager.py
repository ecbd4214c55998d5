"""``Task.apply()``: run a task here and now, as a worker would, and hold the outcome in an
EagerResult (nothing is stored). Retries, asked for or automatic, run again at once."""

from __future__ import annotations

import traceback as tb
from typing import TYPE_CHECKING, Any

from . import signals, states, task_hooks
from .calling import new_task_id
from .errors import Ignore, Replaced, Retry
from .result import ignored_error

if TYPE_CHECKING:
    from .task import Task


class EagerResult:
    """The outcome of ``Task.apply()``: known already, with AsyncResult's reading methods."""

    def __init__(self, task_id: str, value: Any, state: str, traceback: str | None = None,
                 name: str | None = None) -> None:
        self.id = task_id
        self._value, self._state, self.traceback, self.name = value, state, traceback, name

    task_id = property(lambda self: self.id)
    result = info = property(lambda self: self._value)

    @property
    def state(self) -> str:
        """Celery's state, as AsyncResult reads it: PENDING for a task that raised Ignore
        (``apply()`` stores nothing, so there is no custom state to read)."""
        return states.celery_state(self._state)

    status = state

    @property
    def job_state(self) -> str:
        """litequeue's finer state, as AsyncResult's: IGNORED for a task that raised Ignore."""
        return self._state

    def ready(self) -> bool:
        return self._state != states.IGNORED

    def successful(self) -> bool:
        return self._state == states.SUCCESS

    def failed(self) -> bool:
        return self._state == states.FAILURE

    def get(self, timeout: float | None = None, propagate: bool = True, **kwargs: Any) -> Any:
        """The return value; the task's exception is raised when it failed and ``propagate``;
        TaskIgnoredError when it raised Ignore (it has no result), as AsyncResult's get()."""
        if self._state == states.IGNORED:
            raise ignored_error(self.id, self.name)
        if self._state == states.FAILURE and propagate:
            raise self._value
        return self._value

    wait = get

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"


def apply_locally(task: Task, args: tuple, kwargs: dict, options: dict) -> EagerResult:
    """Run ``task`` with these arguments in this process until it succeeds or fails for good."""
    from .task import Request, run_with_request

    task_id = options.get("task_id") or new_task_id()
    retries = 0
    while True:
        request = Request(id=task_id, task=task.name, args=args, kwargs=kwargs, retries=retries,
                          is_eager=True, called_directly=False, headers=options.get("headers"))
        signals.task_prerun.send(sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs)
        task_hooks.call(task, "before_start", task_id, args, kwargs)
        try:
            value = run_with_request(request, lambda: task.run(*args, **kwargs))  # noqa: B023 - called at once
        except Replaced as replaced:
            return _replaced_here(task, task_id, replaced)
        except Ignore as ignored:  # never retried; no task_success or task_failure, as in Celery
            signals.task_postrun.send(sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs,
                                      retval=ignored, state=states.IGNORED)
            return EagerResult(task_id, None, states.IGNORED, None, task.name)
        except Exception as exc:
            if _runs_again(task, exc, retries):
                task_hooks.failed(task, request, states.RETRY, exc, None)
                retries += 1
                continue
            trace = "".join(tb.format_exception(exc))
            task_hooks.failed(task, request, states.FAILURE, exc, trace)
            signals.task_failure.send(sender=task, task_id=task_id, exception=exc, args=args, kwargs=kwargs,
                                      traceback=trace, einfo=trace)
            signals.task_postrun.send(sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs,
                                      retval=exc, state=states.FAILURE)
            return EagerResult(task_id, exc, states.FAILURE, trace, task.name)
        task_hooks.succeeded(task, request, value)
        signals.task_success.send(sender=task, result=value)
        signals.task_postrun.send(sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs,
                                  retval=value, state=states.SUCCESS)
        return EagerResult(task_id, value, states.SUCCESS, None, task.name)


def _replaced_here(task: Task, task_id: str, replaced: Replaced) -> EagerResult:
    """``Task.apply()`` of a task that called ``self.replace(sig)``: ``sig`` runs here too, its
    outcome the task's (as in Celery). A workflow needs the store: its apply() says so."""
    from .canvas.workflows import _Canvas

    sig = replaced.signature
    if isinstance(sig, _Canvas):
        sig.apply()  # raises, naming what to do instead
    done = sig.type.apply(sig.args, sig.kwargs)
    return EagerResult(task_id, done.result, done.job_state, done.traceback, task.name)


def _runs_again(task: Task, exc: Exception, retries: int) -> bool:
    if isinstance(exc, Retry):
        return True  # retry() itself raised the error instead once the limit was reached
    policy = task.retry_policy
    return policy.autoretries(exc) and policy.may_retry(retries, policy.max_retries)
