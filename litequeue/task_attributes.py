"""A task's options as Celery's task attributes (``add.rate_limit``, ``add.max_retries``, ...).

Read-only: each reads the option given to ``@app.task`` (or a ``base=`` class's attribute, or
``task_annotations``), and where none was given, the app's setting Celery takes it from, else
Celery's default. Change an option where it is declared, or with ``task_annotations``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import LiteQueue
    from .task_options import TaskOptions


class TaskAttributes:
    """Celery's task attributes over a task's options; Task inherits them."""

    app: LiteQueue
    options: TaskOptions

    # -- where the job goes, and how it is sent ------------------------------------------------

    @property
    def queue(self) -> str | None:
        """The queue its jobs go to (None: the router's or the default queue)."""
        return self.options.queue

    @property
    def routing_key(self) -> str | None:
        return self.options.routing_key

    @property
    def priority(self) -> int:
        """Its jobs' priority (higher runs first); unset: ``task_default_priority``."""
        p = self.options.priority
        return self.app.conf.task_default_priority if p is None else p

    @property
    def serializer(self) -> str:
        """How its arguments are encoded; unset: ``task_serializer``."""
        return self.options.serializer or self.app.conf.task_serializer

    @property
    def expires(self) -> float | None:
        """Seconds after sending when a job not begun is revoked (None: never)."""
        return self.options.expires

    @property
    def typing(self) -> bool:
        """Whether a call's arguments are checked against the function's signature."""
        return self.options.typing

    # -- how its jobs run ---------------------------------------------------------------------

    @property
    def rate_limit(self) -> str | float | None:
        """The rate its code declares (``"10/s"``); unset: ``task_default_rate_limit``. A rate set
        at run time (``control.rate_limit``) lives in the store, not here."""
        r = self.options.rate_limit
        return self.app.conf.task_default_rate_limit if r is None else r

    @property
    def time_limit(self) -> float | None:
        """Its hard time limit in seconds (None: the worker's, else ``task_time_limit``)."""
        return self.options.time_limit

    @property
    def soft_time_limit(self) -> float | None:
        """Its soft time limit in seconds (None: the worker's, else ``task_soft_time_limit``)."""
        return self.options.soft_time_limit

    @property
    def acks_late(self) -> bool:
        """Unset: ``task_acks_late`` (True here: a job whose worker died runs again)."""
        a = self.options.acks_late
        return self.app.conf.task_acks_late if a is None else a

    @property
    def reject_on_worker_lost(self) -> bool | None:
        """Unset: ``task_reject_on_worker_lost`` (None: retried while retries are left)."""
        r = self.options.reject_on_worker_lost
        return self.app.conf.task_reject_on_worker_lost if r is None else r

    @property
    def track_started(self) -> bool:
        """True unless declared otherwise: a running job is always recorded STARTED here."""
        return True if self.options.track_started is None else self.options.track_started

    @property
    def ignore_result(self) -> bool:
        """Unset: ``task_ignore_result``."""
        i = self.options.ignore_result
        return self.app.conf.task_ignore_result if i is None else i

    @property
    def throws(self) -> tuple:
        """Expected errors: logged in one line, without a traceback."""
        return self.options.throws

    # -- retries --------------------------------------------------------------------------------

    @property
    def max_retries(self) -> int | None:
        """Unset: ``task_default_max_retries`` (3); None retries forever."""
        m = self.options.max_retries
        return self.app.conf.task_default_max_retries if m is ... else m  # type: ignore[return-value]

    @property
    def default_retry_delay(self) -> float:
        """Seconds before a retry that names no countdown or eta (180, as in Celery)."""
        return self.options.default_retry_delay

    @property
    def autoretry_for(self) -> tuple:
        return self.options.autoretry_for

    @property
    def dont_autoretry_for(self) -> tuple:
        return self.options.dont_autoretry_for

    @property
    def retry_kwargs(self) -> dict[str, Any]:
        return dict(self.options.retry_kwargs)  # a copy: the options stay as declared

    @property
    def retry_backoff(self) -> bool | float:
        return self.options.retry_backoff

    @property
    def retry_backoff_max(self) -> float:
        return self.options.retry_backoff_max

    @property
    def retry_jitter(self) -> bool:
        return self.options.retry_jitter
