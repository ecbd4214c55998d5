"""``litequeue status``: queues, workers and running jobs at a glance."""

from __future__ import annotations

import json
import time

import click

from .. import monitoring
from ..display import printable
from .common import DbFirstCommand, app_option, friendly_errors, load_app_readonly
from .output import paint, to_json, when
from .render import age, held_what, table


@click.command(cls=DbFirstCommand)
@click.argument("db")
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print the same data as JSON, for scripts.")
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.pass_context
@friendly_errors
def status(ctx: click.Context, db: str, app_path: str | None, as_json: bool, watch: bool, interval: float) -> None:
    """Queues, workers and running jobs at a glance.

    Per queue: queued (due), scheduled (future eta), reserved (claimed ahead by a worker, not
    begun), running, retrying, failed, done in the last
    hour, and how long the oldest due job has waited. Workers that stopped heartbeating (for 3
    heartbeat intervals of the app given with -A, or the default 10 s) show as lost.
    """
    app = load_app_readonly(ctx, db, app_path)
    try:
        while True:
            data = monitoring.status(app)
            if watch and not as_json:
                click.clear()
            click.echo(to_json(data, stream=watch) if as_json else _render_status(data))
            if not watch:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return  # Ctrl-C is how --watch ends


def _paint_last(line: str) -> str:
    """The line with its last word (a state, at the end of a table row) in its colour."""
    head, _, word = line.rpartition(" ")
    return f"{head} {paint(word)}" if head else line


def _render_status(data: dict) -> str:
    p = printable
    lines = [f"litequeue status of {p(data['database'])} at {when(data['time'])}", ""]
    lines += table(["QUEUE", "QUEUED", "SCHEDULED", "RESERVED", "RUNNING", "RETRYING", "FAILED", "DONE 1H",
                     "OLDEST WAITING"],
                    [[p(q["queue"]), q["queued"], q["scheduled"], q["reserved"], q["running"], q["retrying"],
                      q["failed"], q["done_last_hour"], age(q["oldest_waiting_seconds"])] for q in data["queues"]])
    workers = table(["WORKER", "HOST", "PID", "CONC", "QUEUES", "HEARTBEAT", "DONE", "STATUS"],
                     [[p(w["name"]), p(w["hostname"]), w["pid"], w["concurrency"], p(",".join(w["queues"])),
                       age(w["heartbeat_age"]) + " ago", w["processed"], w["status"].upper()
                       if w["status"] in ("lost", "dead") else w["status"]] for w in data["workers"]])
    lines += [""] + [_paint_last(line) for line in workers]
    if data.get("held_back"):
        lines += ["", "HELD BACK"]
        lines += [f"  {h['waiting']} job(s) of {held_what(h)}: {h['reason']}" for h in data["held_back"]]
    if data.get("workflows"):
        lines += [""] + table(["GROUP / CHORD (LAST HOUR)", "KIND", "DONE", "JOIN"],
                               [[g["id"], "chord" if g["chord"] else "group",
                                 f"{g['members_done']}/{g['members_total']}", g["state"] if g["chord"] else "-"]
                                for g in data["workflows"]])
    if data["running"]:
        lines += ["", "RUNNING"]
        for job in data["running"]:
            progress = f" {json.dumps(job['progress'], default=str)}" if job["progress"] is not None else ""
            lines.append(f"  {p(job['id'])}  {p(job['name'])}  on {p(job['worker'])}  for {age(job['runtime'])}  "
                         f"{p(job['state'])}{p(progress)}")
    return "\n".join(lines)


COMMANDS = [status]
