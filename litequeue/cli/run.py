"""Long-running commands: ``litequeue worker``."""

from __future__ import annotations

import click

from .. import celery_settings, log
from ..app import LiteQueue
from ..worker.consumer import Worker
from ..worker.options import WorkerOptions
from . import celery_flags, worker_options
from .common import (
    APP_URL,
    LEVELS,
    app_option,
    db_argument,
    friendly_errors,
    load_app,
    log_format_option,
    setup_logging,
    split_list,
    store_to_create,
)


@click.command()
@db_argument
@app_option
@worker_options.worker_flags
@click.option("-O", "optimization", type=click.Choice(["fair", "fast", "default"]), default="fair",
              help="Celery's dispatch flag, accepted: litequeue's dispatch is always fair (a free "
                   "child takes the next job), which is also its fastest.")
@click.option("-n", "--hostname", "name", help="Worker name (default: worker-PID@host; %h, %n, %d as in Celery).")
@click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default="warning", show_default=True)
@click.option("-f", "--logfile", type=click.Path(dir_okay=False), help="Log to this file instead of stderr.")
@log_format_option
@click.option("--burst", is_flag=True, help="Run every job that is due, then exit 0.")
@click.option("--create", is_flag=True,
              help="Create the store if DB does not exist yet (a new, empty one). Without it, a worker refuses "
                   "a path with no store, unless it is the store its app (-A) names.")
@celery_flags.worker_flags
@click.pass_context
@friendly_errors
def worker(ctx: click.Context, db: str | None, app_path: str | None, concurrency: int | None,
           pool: str | None, autoscale: tuple[int, int] | None, optimization: str, queues: str | None,
           exclude_queues: str | None, queue_order: str | None,
           name: str | None,
           loglevel: str, logfile: str | None, burst: bool, time_limit: float | None,
           soft_time_limit: float | None, max_tasks_per_child: int | None,
           max_memory_per_child: int | None, beat: bool, log_format: str, import_tasks_by_name: bool,
           create: bool) -> None:
    """Run a worker: claim due jobs from DB and run them in a pool of processes (or threads).

    What tasks print goes to the worker's log (at WARNING), with the job's name and id."""
    setup_logging(loglevel, logfile, log_format)
    app = load_app(ctx, db, app_path)
    allow_import_by_name(ctx, app, app_path, import_tasks_by_name)
    name = worker_options.expand(name) if name is not None else None
    options = WorkerOptions(  # checked before anything happens (a bad -n refuses the start)
        concurrency=concurrency, queues=split_list(queues), exclude=split_list(exclude_queues) or (),
        name=name, burst=burst, time_limit=time_limit, soft_time_limit=soft_time_limit,
        max_tasks_per_child=max_tasks_per_child or app.conf.worker_max_tasks_per_child,
        max_memory_per_child=max_memory_per_child, queue_order=queue_order or "strict", beat=beat,
        pool=pool or "prefork", optimization=optimization, autoscale=autoscale,
    )
    missing = store_to_create(app.url, ctx.meta.get(APP_URL), create)
    celery_flags.apply(ctx, app, name, logfile)  # before the store opens: --detach forks
    celery_settings.announce(app.conf)  # Celery settings with no effect, said where they would matter
    if missing is not None and app.store is not None:  # opening creates it, or says what is wrong
        log.created_store(missing, asked=create)
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


COMMANDS = [worker]
