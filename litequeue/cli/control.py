"""``litequeue control``: change how workers behave, through the store (every worker, every host)."""

from __future__ import annotations

import click

from .admin import open_existing
from .common import app_option, friendly_errors


@click.group()
def control() -> None:
    """Change what every worker does, at once: they read it from the store at their next claim."""


@control.command("rate-limit")
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
    TASK may be queue:NAME for a queue. It stays until changed again, or --reset."""
    if (rate is None) != reset:
        raise click.UsageError("Give a RATE (like 10/m), or --reset to go back to the code's rate limit.")
    app = open_existing(ctx, db, app_path)
    reply = app.control.rate_limit(task_name, None if reset else rate, reply=True)
    click.echo(reply[0]["litequeue"]["ok"] if reply else "done")


COMMANDS = [control]
