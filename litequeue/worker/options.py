"""How a worker runs (its command-line options), and the time limits they give each job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..display import printable, unsafe_character
from ..errors import ConfigurationError
from ..store import Job
from .children import Limits


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs (the command line's options)."""

    concurrency: int | None = None
    queues: tuple[str, ...] | None = None  # None: every queue
    exclude: tuple[str, ...] = ()
    name: str | None = None
    burst: bool = False
    time_limit: float | None = None
    soft_time_limit: float | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None  # KiB
    queue_order: str = "strict"  # or "round-robin"
    start_method: str = "fork"
    beat: bool = False  # -B: also send due schedule entries, from this main loop (no thread)
    pool: str = "prefork"  # -P: prefork (child processes), threads, or solo (in the main loop)
    optimization: str = "fair"  # -O: Celery's flag; fair and fast are the same dispatch here
    autoscale: tuple[int, int] | None = None  # --autoscale=max,min: pool processes between min and max

    def __post_init__(self) -> None:
        bad = unsafe_character(self.name) if self.name else None
        if bad is not None:  # the name is stored, logged and shown by status and inspect
            raise ConfigurationError(
                f"The worker name {printable(self.name)!r} (-n, after %h/%n/%d are filled in) contains the "
                f"control character {printable(bad)}; a worker name may hold only printable characters, "
                "like w1@%h. Give another name.")


POOLS = ("prefork", "threads", "solo")


def limits_for(job: Job, task: Any, options: WorkerOptions, conf: Any) -> Limits:
    """A job's soft and hard time limits: the call's own, else its task's, else the worker's
    (--time-limit, --soft-time-limit), else the app's (task_time_limit/task_soft_time_limit)."""

    def pick(name: str, worker_wide: float | None, app_wide: float | None) -> float | None:
        per_job = job.options.get(name)
        per_task = getattr(task.options, name) if task is not None else None
        return per_job or per_task or worker_wide or app_wide

    return Limits(pick("soft_time_limit", options.soft_time_limit, conf.task_soft_time_limit),
                  pick("time_limit", options.time_limit, conf.task_time_limit))
