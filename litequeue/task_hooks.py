"""Calling a Task subclass's hooks (Celery's before_start, on_success, on_retry, on_failure,
after_return) around an attempt, for the worker's children and for ``Task.apply()`` alike.

Only hooks a subclass overrides are called, so plain tasks pay nothing. A hook that raises is
logged, never fatal: the attempt's outcome is already decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .task import Request, Task

log = logging.getLogger("litequeue.task")


class TaskHooks:
    """The hooks a Task subclass may define (Celery's); the worker calls those a subclass
    overrides around each attempt. Task inherits these empty ones."""

    def before_start(self, task_id: str, args: tuple, kwargs: dict) -> None:
        """Called before the attempt runs."""

    def on_success(self, retval: Any, task_id: str, args: tuple, kwargs: dict) -> None:
        """Called when the attempt returned ``retval``."""

    def on_retry(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """Called when the attempt failed and the job will run again."""

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """Called when the attempt failed for good."""

    def after_return(self, status: str, retval: Any, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """Called after every attempt, with its state and return value (or exception)."""


@dataclass(frozen=True)
class ExceptionInfo:
    """What Celery passes hooks as ``einfo``: the exception, its type and its traceback text."""

    exception: BaseException
    traceback: str | None

    @property
    def type(self) -> type[BaseException]:
        return type(self.exception)

    def __str__(self) -> str:
        return self.traceback or repr(self.exception)


def overrides(task: Task, name: str) -> bool:
    from .task import Task as Base

    return getattr(type(task), name, None) is not getattr(Base, name)


def call(task: Task | None, name: str, *args: Any) -> None:
    """``task.<name>(*args)`` when the task's class overrides that hook."""
    if task is None or not overrides(task, name):
        return
    try:
        getattr(task, name)(*args)
    except Exception:
        log.exception("Task %s's %s hook raised; carrying on.", task.name, name)


def succeeded(task: Task, request: Request, value: Any) -> None:
    call(task, "on_success", value, request.id, request.args, request.kwargs)
    call(task, "after_return", "SUCCESS", value, request.id, request.args, request.kwargs, None)


def failed(task: Task | None, request: Request, state: str, exc: BaseException, trace: str | None) -> None:
    einfo = ExceptionInfo(exc, trace)
    call(task, "on_retry" if state == "RETRY" else "on_failure", exc, request.id, request.args, request.kwargs, einfo)
    call(task, "after_return", state, exc, request.id, request.args, request.kwargs, einfo)
