"""Long-running commands: ``litequeue worker``."""

from __future__ import annotations

import click

from .. import log
from ..app import LiteQueue
from ..worker.consumer import Worker
from ..worker.options import POOLS, WorkerOptions
from . import celery_flags
from .common import (
    LEVELS,
    app_option,
    db_argument,
    friendly_errors,
    load_app,
    log_format_option,
    setup_logging,
    split_list,
)


@click.command()
@db_argument
@app_option
@click.option("-c", "--concurrency", type=click.IntRange(min=1),
              help="Pool processes, or threads with -P threads (default: CPU count).")
@click.option("-P", "--pool", type=click.Choice(POOLS), default="prefork", show_default=True,
              help="prefork: child processes; threads: threads in the worker (I/O-bound tasks); "
                   "solo: one job at a time in the worker's loop (debugging).")
@click.option("--autoscale", callback=lambda ctx, param, value: _autoscale(value), metavar="MAX,MIN",
              help="Grow the pool up to MAX processes while jobs wait, shrink it to MIN when idle.")
@click.option("-O", "optimization", type=click.Choice(["fair", "fast", "default"]), default="fair",
              help="Celery's dispatch flag, accepted: litequeue's dispatch is always fair (a free "
                   "child takes the next job), which is also its fastest.")
@click.option("-Q", "--queues", help="Only these queues, comma-separated, in strict priority order.")
@click.option("-X", "--exclude-queues", help="All queues but these, comma-separated.")
@click.option("--queue-order", type=click.Choice(["strict", "round-robin"]), default="strict", show_default=True)
@click.option("-n", "--hostname", "name", help="Worker name (default: worker-PID@host).")
@click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default="warning", show_default=True)
@click.option("-f", "--logfile", type=click.Path(dir_okay=False), help="Log to this file instead of stderr.")
@log_format_option
@click.option("--burst", is_flag=True, help="Run every job that is due, then exit 0.")
@click.option("-B", "--beat", is_flag=True, help="Also run beat: send the schedule's due jobs (safe on many workers).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Hard time limit per job (s).")
@click.option("--soft-time-limit", type=click.FloatRange(min=0, min_open=True), help="Soft time limit per job (s).")
@click.option("--max-tasks-per-child", type=click.IntRange(min=1), help="Replace a child after this many jobs.")
@click.option("--max-memory-per-child", type=click.IntRange(min=1), help="Replace a child past this RSS (KiB).")
@click.option("--import-tasks-by-name", is_flag=True,
              help="Also run litequeue tasks found by importing a job's task name (trusted producers only).")
@celery_flags.worker_flags
@click.pass_context
@friendly_errors
def worker(ctx: click.Context, db: str | None, app_path: str | None, concurrency: int | None,
           pool: str, autoscale: tuple[int, int] | None, optimization: str, queues: str | None,
           exclude_queues: str | None, queue_order: str,
           name: str | None,
           loglevel: str, logfile: str | None, burst: bool, time_limit: float | None,
           soft_time_limit: float | None, max_tasks_per_child: int | None,
           max_memory_per_child: int | None, beat: bool, log_format: str, import_tasks_by_name: bool) -> None:
    """Run a worker: claim due jobs from DB and run them in a pool of processes (or threads).

    What tasks print goes to the worker's log (at WARNING), with the job's name and id."""
    setup_logging(loglevel, logfile, log_format)
    app = load_app(ctx, db, app_path)
    allow_import_by_name(ctx, app, app_path, import_tasks_by_name)
    name = celery_flags.expand_name(name)
    missing = log.missing_store(app.url)
    celery_flags.apply(ctx, app, name, logfile)  # before the store opens: --detach forks
    if missing is not None and app.store is not None:  # opening creates it, or says what is wrong
        log.created_store(missing)
    options = WorkerOptions(
        concurrency=concurrency, queues=split_list(queues), exclude=split_list(exclude_queues) or (),
        name=name, burst=burst, time_limit=time_limit, soft_time_limit=soft_time_limit,
        max_tasks_per_child=max_tasks_per_child or app.conf.worker_max_tasks_per_child,
        max_memory_per_child=max_memory_per_child, queue_order=queue_order, beat=beat, pool=pool,
        optimization=optimization, autoscale=autoscale,
    )
    with log.stdouts_to_log():
        code = Worker(app, options).run()
    ctx.exit(code)


def allow_import_by_name(ctx: click.Context, app: LiteQueue, app_path: str | None, flag: bool) -> None:
    """--import-tasks-by-name turns the setting on; a worker with neither -A nor the opt-in could
    run no task at all, so it refuses to start rather than fail every job."""
    if flag:
        app.conf.worker_import_tasks_by_name = True
    if not (app_path or (ctx.obj and (ctx.obj.app_path or ctx.obj.app))) and not app.conf.worker_import_tasks_by_name:
        raise click.UsageError(
            "A worker runs only the tasks registered with its app: give -A module (the module defining your "
            "tasks), or --import-tasks-by-name to import each job's task by its name (litequeue tasks only)."
        )


def _autoscale(value: str | None) -> tuple[int, int] | None:
    """--autoscale=MAX,MIN (Celery's order); MIN may be left out (0)."""
    if value is None:
        return None
    try:
        numbers = [int(part) for part in value.split(",")]
        most, least = (numbers + [0])[:2] if len(numbers) in (1, 2) else (0, -1)
    except ValueError:
        most, least = 0, -1
    if not 1 <= most or not 0 <= least <= most:
        raise click.BadParameter(f"{value!r}: give MAX,MIN with 1 <= MAX and 0 <= MIN <= MAX, e.g. 10,3.",
                                 param_hint="--autoscale")
    return most, least


COMMANDS = [worker]
