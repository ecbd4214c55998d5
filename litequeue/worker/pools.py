"""Choosing the pool ``-P`` asks for: prefork (default, with --autoscale), threads, or solo.
All three have one interface (submit, collect, running, terminate, ...), which the worker uses."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .execute import ChildContext
from .options import WorkerOptions
from .pool import Pool
from .solo import SoloPool
from .threads import ThreadPool

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("litequeue.worker")

AnyPool = Pool | ThreadPool | SoloPool


def make_pool(options: WorkerOptions, conf: Settings, concurrency: int, ctx: ChildContext) -> AnyPool:
    """The pool -P asked for, of ``concurrency`` workers (the most, under --autoscale); options
    that do not apply to it are named in a warning."""
    max_memory = options.max_memory_per_child or conf.worker_max_memory_per_child
    if options.pool == "prefork":
        least = options.autoscale[1] if options.autoscale else concurrency
        pool = Pool(least, ctx, options.max_tasks_per_child, max_memory, options.start_method)
        if options.autoscale:
            pool.scale_to, pool.keepalive = options.autoscale, conf.worker_autoscale_keepalive
        return pool
    if options.autoscale:
        log.warning("--autoscale applies to -P prefork; -P %s runs %d at once.", options.pool, concurrency)
    for name, value in (("max_tasks_per_child", options.max_tasks_per_child), ("max_memory_per_child", max_memory)):
        if value:
            log.warning("%s applies to pool processes; it is ignored with -P %s.", name, options.pool)
    if options.pool == "threads":
        return ThreadPool(concurrency, ctx)
    asked = options.concurrency or conf.worker_concurrency
    if asked and asked != 1:
        log.warning("-c %d (worker_concurrency) is ignored with -P solo: it runs one job at a time, in the "
                    "worker's loop. Use -P threads or -P prefork to run several at once.", asked)
    if options.time_limit or conf.task_time_limit:
        log.warning("-P solo applies the hard time_limit by raising TimeLimitExceeded in the task (there is no "
                    "process to kill): a task that catches every exception can swallow it and run on.")
    return SoloPool(1, ctx)
