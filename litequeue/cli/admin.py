"""Commands that look at or change the store: result, call."""

from __future__ import annotations

import datetime as dt
import json

import click

from ..result import AsyncResult
from .common import app_option, db_argument, friendly_errors, load_app


def _json_arg(value: str | None, what: str, kind: type) -> object:
    if value is None:
        return kind()
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at position {exc.pos}): {value}", param_hint=what) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {'list' if kind is list else 'object'}", param_hint=what)
    return parsed


@click.command()
@click.argument("db")
@click.argument("task_name")
@app_option
@click.option("--args", "args_json", help='Positional arguments as a JSON list, e.g. "[2, 3]".')
@click.option("--kwargs", "kwargs_json", help='Keyword arguments as a JSON object.')
@click.option("--countdown", type=float, help="Run no sooner than this many seconds from now.")
@click.option("--queue", help="Send to this queue.")
@click.option("--priority", type=int, help="Higher runs first within a queue.")
@click.pass_context
@friendly_errors
def call(ctx: click.Context, db: str, task_name: str, app_path: str | None, args_json: str | None,
         kwargs_json: str | None, countdown: float | None, queue: str | None, priority: int | None) -> None:
    """Send a job of TASK_NAME; prints its id."""
    app = load_app(ctx, db, app_path)
    options = {k: v for k, v in (("countdown", countdown), ("queue", queue), ("priority", priority)) if v is not None}
    result = app.send_task(task_name, _json_arg(args_json, "--args", list), _json_arg(kwargs_json, "--kwargs", dict), **options)
    click.echo(result.id)


@click.command()
@click.argument("db")
@click.argument("task_id")
@app_option
@click.pass_context
@friendly_errors
def result(ctx: click.Context, db: str, task_id: str, app_path: str | None) -> None:
    """Show a job's state, result or error, attempts, worker and times."""
    app = load_app(ctx, db, app_path)
    job = AsyncResult(task_id, app=app).job
    if job is None:
        raise click.ClickException(f"No job with id {task_id} in {db} (it was never sent, or was pruned).")
    click.echo(f"id:       {job.task_id}\ntask:     {job.task}\nstate:    {job.state}\nqueue:    {job.queue}")
    click.echo(f"attempts: {job.attempts}\nworker:   {job.worker or '-'}")
    if job.state == "SUCCESS":
        click.echo(f"result:   {AsyncResult(task_id, app=app).result!r}")
    if job.exc_type:
        click.echo(f"error:    {job.exc_type}: {job.exc_message}")
    if job.traceback:
        click.echo(job.traceback.rstrip())
    for entry in job.history:  # one line per failed attempt, oldest first
        when = dt.datetime.fromtimestamp(entry["time"], dt.UTC).isoformat(timespec="seconds")
        click.echo(f"history:  attempt {entry['attempt']} at {when} on {entry['worker']}: "
                   f"{entry['exc_type']}: {entry['message']}")


COMMANDS = [call, result]
