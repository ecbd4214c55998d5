"""``self.request``: what a running task knows about the job it is running, and which job runs now."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar("litequeue_request", default=None)


@dataclass(frozen=True)
class Request:
    """What a running task knows about the job it is running (``self.request``)."""

    id: str | None = None
    task: str | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    retries: int = 0
    max_retries: int | None | object = ...  # the job's own limit (... = the task's)
    eta: float | None = None
    expires: float | None = None
    delivery_info: dict = field(default_factory=dict)
    hostname: str | None = None
    is_eager: bool = False
    called_directly: bool = True
    revoked_check: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    headers: dict | None = None  # the headers given to apply_async (Celery's request.headers)

    @property
    def name(self) -> str | None:
        """The task's name (Celery's worker request calls it ``name`` as well as ``task``)."""
        return self.task

    @property
    def task_name(self) -> str | None:
        """The task's name, as Celery's worker request's ``task_name``."""
        return self.task


def current_request() -> Request | None:
    """The request of the job running in this thread or task, or None outside one."""
    return _current_request.get()


def run_with_request(request: Request, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with ``request`` as the current job's request."""
    token = _current_request.set(request)
    try:
        return fn()
    finally:
        _current_request.reset(token)
