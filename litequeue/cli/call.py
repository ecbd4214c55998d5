"""``litequeue call``: send a job from the command line, optionally waiting for its result."""

from __future__ import annotations

import datetime as dt
import difflib
import inspect as inspect_module
import json
from typing import Any

import click

from .. import states
from ..app import LiteQueue
from ..errors import LiteQueueError
from ..result import AsyncResult
from .common import DbFirstCommand, app_option, friendly_errors, load_app
from .output import to_json


def _json_arg(value: str | None, what: str, kind: type) -> object:
    if value is None:
        return kind()
    example = "'[2, 3]'" if kind is list else '\'{"x": 1}\''
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{what} is not valid JSON ({exc.msg} at position {exc.pos}): {value}; "
                                   f"write it like {what} {example}.") from None
    if not isinstance(parsed, kind):
        raise click.ClickException(f"{what} must be a JSON {'list' if kind is list else 'object'}, "
                                   f"like {what} {example}; got {value}.")
    return parsed


class _Time(click.ParamType):
    """Seconds from now, or an ISO-8601 time (UTC when it names no zone, as Celery reads a naive eta)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is neither seconds nor an ISO-8601 time like 2030-01-31T09:00:00Z.", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


TIME = _Time()


def check_call(app: LiteQueue, name: str, args: list, kwargs: dict) -> None:
    """Refuse a task the app does not register, or arguments its function cannot take."""
    task = app.tasks.get(name)
    if task is None:
        near = difflib.get_close_matches(name, list(app.tasks), n=1)
        hint = f" Did you mean {near[0]}?" if near else " `litequeue inspect DB registered -A ...` lists them."
        raise click.ClickException(f"The app registers no task named {name!r}.{hint}")
    fun = getattr(task, "fun", None) or task.run  # the function as written (run of a Task subclass)
    bound = getattr(getattr(task, "options", None), "bind", False) and fun is not task.run
    try:
        signature = inspect_module.signature(fun)
    except (TypeError, ValueError):
        return  # a callable whose signature Python cannot read: the worker will tell
    try:
        signature.bind(*((None,) if bound else ()), *args, **kwargs)
    except TypeError as exc:
        raise click.ClickException(f"{name}{signature} cannot take --args {json.dumps(args)} "
                                   f"--kwargs {json.dumps(kwargs)}: {exc}.") from None


def _wait_for(result: AsyncResult, timeout: float | None) -> None:
    try:
        value = result.get(timeout=timeout, propagate=False)
    except LiteQueueError as exc:  # the timeout
        raise click.ClickException(exc.message) from None
    if result.state == states.SUCCESS:
        click.echo(to_json(value) if not isinstance(value, str) else value)
        return
    job = result.job
    raise click.ClickException(f"{result.id} ended {result.state}"
                               + (f": {job.exc_type}: {job.exc_message}" if job and job.exc_type else "."))


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_name")
@app_option
@click.option("--args", "args_json", help='Positional arguments as a JSON list, e.g. "[2, 3]".')
@click.option("--kwargs", "kwargs_json", help='Keyword arguments as a JSON object.')
@click.option("--countdown", type=float, help="Run no sooner than this many seconds from now.")
@click.option("--eta", type=TIME, help="Run no sooner than this time (ISO-8601; without a zone: UTC).")
@click.option("--expires", type=TIME, metavar="SECONDS|TIME", help="Revoke it if not started by then.")
@click.option("--queue", help="Send to this queue.")
@click.option("--priority", type=int, help="Higher runs first within a queue.")
@click.option("--wait", is_flag=True, help="Wait for the job to end; print its result (exit 1 if it failed).")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --wait: give up after this many seconds.")
@click.pass_context
@friendly_errors
def call(ctx: click.Context, db: str, task_name: str, app_path: str | None, args_json: str | None,
         kwargs_json: str | None, countdown: float | None, eta: Any, expires: Any, queue: str | None,
         priority: int | None, wait: bool, timeout: float | None) -> None:
    """Send a job of TASK_NAME; prints its id (and with --wait, its result)."""
    if timeout is not None and not wait:
        raise click.UsageError("--timeout is how long --wait waits; add --wait, or leave --timeout out.")
    if isinstance(eta, float):
        raise click.BadParameter(f"{eta:g} is not a time; --eta takes an ISO-8601 time like 2030-01-31T09:00:00Z "
                                 "(for seconds from now, use --countdown).", param_hint="'--eta'")
    app = load_app(ctx, db, app_path)
    given = (("countdown", countdown), ("eta", eta), ("expires", expires), ("queue", queue), ("priority", priority))
    options: dict[str, Any] = {k: v for k, v in given if v is not None}
    args, kwargs = _json_arg(args_json, "--args", list), _json_arg(kwargs_json, "--kwargs", dict)
    if app_path or (ctx.obj and ctx.obj.app_path):
        check_call(app, task_name, args, kwargs)  # type: ignore[arg-type]
    result = app.send_task(task_name, args, kwargs, **options)
    click.echo(result.id)
    if wait:
        _wait_for(result, timeout)


COMMANDS = [call]
