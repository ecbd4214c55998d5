"""``litequeue control``: change how workers behave, through the store (every worker, every host):
rate limits, and Celery's control commands (ping, shutdown, revoke, terminate, purge)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from .common import DbFirstCommand, app_option, friendly_errors, open_existing, split_list


class _CeleryNames(click.Group):
    """Subcommands found by Celery's spelling too: ``control add_consumer`` is ``add-consumer``."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or super().get_command(ctx, cmd_name.replace("_", "-"))


@click.group(cls=_CeleryNames)
def control() -> None:
    """Change what every worker does, at once: they read it from the store at their next claim.
    Celery's spellings work too (rate_limit, add_consumer)."""


@control.command("rate-limit", cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_name", metavar="TASK")
@click.argument("rate", required=False)
@click.option("--reset", is_flag=True, help="Go back to the rate limit the code declares.")
@app_option
@click.pass_context
@friendly_errors
def rate_limit(ctx: click.Context, db: str, task_name: str, rate: str | None, reset: bool,
               app_path: str | None) -> None:
    """Set TASK's rate limit for every worker: RATE as 10/s, 100/m, 1000/h (0 lifts the limit).
    TASK may be queue:NAME for a queue. It stays until changed again, or --reset. A task the app
    (-A) does not register, or a queue neither declared nor in the store, is refused."""
    if (rate is None) != reset:
        raise click.UsageError("Give a RATE (like 10/m), or --reset to go back to the code's rate limit.")
    app = open_existing(ctx, db, app_path)
    _show(ctx, app.control.rate_limit(task_name, None if reset else rate, reply=True) or [], False)


def _celery_command(name: str, takes_ids: bool = False) -> Callable[[Callable[..., Any]], click.Command]:
    """One of Celery's control commands, as a subcommand: [DB] [ID]... [-d workers] [--json]."""

    def decorate(fn: Callable[..., Any]) -> click.Command:
        fn = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")(fn)
        fn = click.option("-d", "--destination", help="Only these workers, comma-separated.")(fn)
        fn = app_option(fn)
        if takes_ids:
            fn = click.argument("task_ids", nargs=-1, required=True, metavar="ID...")(fn)
        fn = click.argument("db")(fn)
        return control.command(name, cls=DbFirstCommand)(click.pass_context(friendly_errors(fn)))

    return decorate


@_celery_command("ping")
def ping(ctx: click.Context, db: str, app_path: str | None, destination: str | None, as_json: bool) -> None:
    """Ask the live workers for a pong."""
    _show(ctx, open_existing(ctx, db, app_path).control.ping(split_list(destination)), as_json)


@_celery_command("shutdown")
def shutdown(ctx: click.Context, db: str, app_path: str | None, destination: str | None, as_json: bool) -> None:
    """Ask the live workers on this machine to stop warmly (they finish their running jobs)."""
    _show(ctx, open_existing(ctx, db, app_path).control.shutdown(split_list(destination)), as_json)


@_celery_command("revoke", takes_ids=True)
def revoke(ctx: click.Context, db: str, task_ids: tuple[str, ...], app_path: str | None, destination: str | None,
           as_json: bool) -> None:
    """Revoke jobs by id (jobs already running carry on; see terminate)."""
    count = open_existing(ctx, db, app_path).control.revoke(list(task_ids), destination=split_list(destination))
    click.echo(json.dumps({"revoked": count}) if as_json else f"revoked: {count}")


@_celery_command("terminate", takes_ids=True)
@click.option("--signal", "signal_name", help="A signal (Celery's option): litequeue always uses SIGKILL, "
              "and warns when another is asked for.")
def terminate(ctx: click.Context, db: str, task_ids: tuple[str, ...], app_path: str | None,
              destination: str | None, as_json: bool, signal_name: str | None) -> None:
    """Revoke jobs by id and stop those running."""
    count = open_existing(ctx, db, app_path).control.revoke(list(task_ids), split_list(destination), terminate=True,
                                                            signal=signal_name)
    click.echo(json.dumps({"revoked": count}) if as_json else f"revoked: {count}")


@_celery_command("add-consumer")
@click.argument("queue")
def add_consumer(ctx: click.Context, db: str, queue: str, app_path: str | None, destination: str | None,
                 as_json: bool) -> None:
    """Have the live workers also consume QUEUE, from their next claim (until they restart)."""
    app = open_existing(ctx, db, app_path)
    _show(ctx, app.control.add_consumer(queue, destination=split_list(destination), reply=True) or [], as_json)


@_celery_command("cancel-consumer")
@click.argument("queue")
def cancel_consumer(ctx: click.Context, db: str, queue: str, app_path: str | None, destination: str | None,
                    as_json: bool) -> None:
    """Have the live workers stop consuming QUEUE, from their next claim (claimed jobs still run)."""
    app = open_existing(ctx, db, app_path)
    _show(ctx, app.control.cancel_consumer(queue, destination=split_list(destination), reply=True) or [], as_json)


@_celery_command("purge")
def purge(ctx: click.Context, db: str, app_path: str | None, destination: str | None, as_json: bool) -> None:
    """Delete every waiting job (asks nothing, as Celery's control purge)."""
    count = open_existing(ctx, db, app_path).control.purge()
    click.echo(json.dumps({"purged": count}) if as_json else f"purged: {count}")


def _show(ctx: click.Context, replies: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(replies, indent=2, default=str))
        return
    for answer in replies:
        for worker, value in answer.items():
            click.echo(f"-> {worker}: {value.get('ok') or 'error: ' + value.get('error', '')}")
    if not replies:
        click.echo("Error: No nodes replied (no live workers).", err=True)
        ctx.exit(1)


COMMANDS = [control]
