"""Commands for jobs that failed for good: ``failed`` lists them, ``retry`` puts them back."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from .. import states
from ..display import printable, utc_datetime
from ..store import Job, Store
from .common import DbFirstCommand, app_option, friendly_errors, load_app_readonly, open_existing

REQUEUE_BATCH = 500  # job ids per requeue transaction
ERROR_WIDTH = 60  # characters of the last error shown per line


@click.command(cls=DbFirstCommand)
@click.argument("db")
@app_option
@click.option("--task", "task_name", metavar="NAME", help="Only failed jobs of this task.")
@click.option("--queue", help="Only failed jobs of this queue.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_context
@friendly_errors
def failed(ctx: click.Context, db: str, app_path: str | None, task_name: str | None, queue: str | None,
           limit: int, as_json: bool) -> None:
    """List the failed jobs in DB, oldest first: id, task, attempts, last error."""
    store = load_app_readonly(ctx, db, app_path).store
    jobs = store.list_jobs([states.FAILURE], queue=queue, task=task_name, limit=limit + 1)
    more, jobs = len(jobs) > limit, jobs[:limit]
    if as_json:
        click.echo(json.dumps([_as_dict(job) for job in jobs], indent=2))
        return
    if not jobs:
        click.echo("No failed jobs.")
        return
    width = max(len(printable(job.task)) for job in jobs)
    click.echo(f"{'ID':36}  {'TASK':{width}}  {'ATTEMPTS':>8}  LAST ERROR")
    for job in jobs:
        click.echo(f"{printable(job.task_id):36}  {printable(job.task):{width}}  {job.attempts:>8}  {_last_error(job)}")
    if more:
        click.echo(f"(only the oldest {limit} are shown; raise --limit to see more)", err=True)


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_ids", nargs=-1, metavar="[ID]...")
@app_option
@click.option("--all", "every", is_flag=True, help="Every failed job.")
@click.option("--task", "task_name", metavar="NAME", help="Every failed job of this task.")
@click.pass_context
@friendly_errors
def retry(ctx: click.Context, db: str, task_ids: tuple[str, ...], app_path: str | None, every: bool,
          task_name: str | None) -> None:
    """Put failed jobs back in their queues to run again (attempts reset, history kept).

    Name the jobs by ID, or pick every failed job (--all) or those of one task (--task NAME).
    """
    if bool(task_ids) + every + (task_name is not None) != 1:
        raise click.UsageError("Give job IDs, or --all, or --task NAME (exactly one of them).")
    store = open_existing(ctx, db, app_path).store
    ids, refused = _finished(store, task_ids) if task_ids else (store.job_ids([states.FAILURE], task_name), [])
    click.echo(f"Put {_requeue(store, ids)} job(s) back in their queues.")
    if refused:
        raise click.ClickException(
            "Not put back: " + "; ".join(refused) + ". Only finished (typically FAILURE) jobs can be retried."
        )


def _finished(store: Store, task_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """The named jobs that are over (and may run again), and why each of the others may not."""
    ids, refused = [], []
    for task_id in dict.fromkeys(task_ids):
        job = store.get(task_id)
        if job is None:
            refused.append(f"{task_id}: no such job")
        elif job.state not in states.READY_STATES:
            refused.append(f"{task_id}: it is {job.state}, not finished")
        else:
            ids.append(task_id)
    return ids, refused


def _requeue(store: Store, ids: Sequence[str]) -> int:
    """Requeue in short transactions, with a progress bar when there are many on a terminal."""
    batches = [ids[i:i + REQUEUE_BATCH] for i in range(0, len(ids), REQUEUE_BATCH)]
    if len(batches) < 2 or not sys.stderr.isatty():
        return sum(store.requeue(batch) for batch in batches)
    done = 0
    with click.progressbar(length=len(ids), label="Requeueing failed jobs", file=sys.stderr) as bar:
        for batch in batches:
            done += store.requeue(batch)
            bar.update(len(batch))
    return done


def _last_error(job: Job) -> str:
    text = printable(f"{job.exc_type or 'error'}: {job.exc_message or ''}".replace("\n", " "))
    return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 3] + "..."


def _as_dict(job: Job) -> dict:
    done = utc_datetime(job.done_at)
    failed_at = done.isoformat() if done else None
    return {
        "id": job.task_id, "task": job.task, "queue": job.queue, "attempts": job.attempts,
        "exc_type": job.exc_type, "exc_message": job.exc_message, "failed_at": failed_at,
        "history": len(job.history),
    }


COMMANDS = [failed, retry]
