"""Commands about queues: ``litequeue queues`` lists them with their bindings and job counts."""

from __future__ import annotations

import dataclasses
import json

import click

from ..monitoring import summarize_queues
from ..routing import PERSISTENT, TRANSIENT
from .common import app_option, db_argument, friendly_errors, load_app_readonly, open_existing

_MODES: dict[int | None, str] = {PERSISTENT: "persistent", TRANSIENT: "transient"}
_COLUMNS = ("queue", "mode", "exchange", "bindings", "queued", "scheduled", "reserved", "running", "failed",
            "state")


@click.command()
@db_argument
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--pause", "to_pause", metavar="QUEUE", multiple=True,
              help="Stop every worker claiming from QUEUE (jobs still arrive and wait); repeatable.")
@click.option("--resume", "to_resume", metavar="QUEUE", multiple=True, help="Let workers claim from QUEUE again.")
@click.pass_context
@friendly_errors
def queues(ctx: click.Context, db: str | None, app_path: str | None, as_json: bool, to_pause: tuple[str, ...],
           to_resume: tuple[str, ...]) -> None:
    """List queues: the app's declared ones (task_queues) and any that hold jobs, with their
    bindings, delivery mode, counts of queued, scheduled, reserved (claimed ahead
    by a worker, not begun), running and failed jobs, and whether
    they are paused. --pause / --resume change that first (the claim itself obeys it)."""
    changes = to_pause or to_resume  # only reading otherwise: read-only
    app = open_existing(ctx, db, app_path) if changes else load_app_readonly(ctx, db, app_path)
    for queue in to_pause:
        click.echo(f"Paused {queue}." if app.store.pause_queue(queue) else f"{queue} was paused already.", err=True)
    for queue in to_resume:
        click.echo(f"Resumed {queue}." if app.store.resume_queue(queue) else f"{queue} was not paused.", err=True)
    summaries = summarize_queues(app.conf, app.store.counts(), app.store.paused_queues())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in summaries], indent=2))
        return
    rows: list[tuple[str, ...]] = [_COLUMNS] + [
        (s.name, _MODES.get(s.delivery_mode, "-"), s.exchange,
         ",".join(s.bindings) or "-", *map(str, (s.queued, s.scheduled, s.reserved, s.running, s.failed)),
         "PAUSED" if s.paused else "active")
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        cells = [c.ljust(w) if i < 4 or i == len(_COLUMNS) - 1 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        click.echo("  ".join(cells).rstrip())


COMMANDS = [queues]
