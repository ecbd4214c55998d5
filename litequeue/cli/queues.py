"""Commands about queues: ``litequeue queues`` lists them with their bindings and job counts."""

from __future__ import annotations

import dataclasses
import json

import click

from ..monitoring import summarize_queues
from ..routing import PERSISTENT, TRANSIENT
from .common import app_option, db_argument, friendly_errors, load_app

_MODES: dict[int | None, str] = {PERSISTENT: "persistent", TRANSIENT: "transient"}
_COLUMNS = ("queue", "mode", "exchange", "bindings", "queued", "scheduled", "running", "failed")


@click.command()
@db_argument
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_context
@friendly_errors
def queues(ctx: click.Context, db: str | None, app_path: str | None, as_json: bool) -> None:
    """List queues: the app's declared ones (task_queues) and any that hold jobs, with their
    bindings, delivery mode and counts of queued, scheduled, running and failed jobs."""
    app = load_app(ctx, db, app_path)
    summaries = summarize_queues(app.conf, app.store.counts())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in summaries], indent=2))
        return
    rows: list[tuple[str, ...]] = [_COLUMNS] + [
        (s.name, _MODES.get(s.delivery_mode, "-"), s.exchange,
         ",".join(s.bindings) or "-", *map(str, (s.queued, s.scheduled, s.running, s.failed)))
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        cells = [c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        click.echo("  ".join(cells).rstrip())


COMMANDS = [queues]
