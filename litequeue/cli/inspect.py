"""``litequeue inspect``: Celery's inspect, read from the store, per live worker."""

from __future__ import annotations

import json
from typing import Any

import click

from ..display import printable
from .common import DbFirstCommand, app_option, friendly_errors, load_app_readonly, split_list
from .output import to_json, when
from .render import held_what, render_flow

INSPECT_METHODS = ["active", "reserved", "scheduled", "registered", "revoked", "stats", "active_queues", "ping",
                   "query_task", "conf", "held_back"]


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("what", type=click.Choice(INSPECT_METHODS))
@click.argument("ids", nargs=-1, metavar="[ID]...")
@app_option
@click.option("-d", "--destination", help="Only these workers, comma-separated.")
@click.option("--with-defaults", is_flag=True, help="conf: every setting, not only those changed from the default.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@click.pass_context
@friendly_errors
def inspect(ctx: click.Context, db: str, what: str, ids: tuple[str, ...], app_path: str | None,
            destination: str | None, with_defaults: bool, as_json: bool) -> None:
    """Celery's inspect, read from the store, per live worker: the jobs it runs (active), has
    claimed (reserved), would run at their eta (scheduled); the tasks it knows (registered, needs
    -A), revoked ids, its queues (active_queues), statistics (stats), a pong (ping), where the
    jobs ID... are (query_task ID...), the settings it runs with (conf); and, from the store, due
    jobs a rate or concurrency limit holds back, with the reason (held_back)."""
    if what == "registered" and not (app_path or (ctx.obj and (ctx.obj.app_path or ctx.obj.app))):
        raise click.ClickException("inspect registered lists the tasks of your app: give it with -A module.")
    if (what == "query_task") != bool(ids):
        raise click.UsageError("Give job ids to query_task (inspect query_task ID...), and to no other question.")
    if with_defaults and what != "conf":
        raise click.UsageError("--with-defaults goes with inspect conf.")
    app = load_app_readonly(ctx, db, app_path)
    asked = app.control.inspect(split_list(destination))
    data: Any = (asked.query_task(*ids) if what == "query_task" else asked.conf(with_defaults) if what == "conf"
                 else getattr(asked, what)())
    if as_json:
        click.echo(to_json(data))
        return
    if what == "held_back":  # a question about the store, not the workers
        click.echo("\n".join(f"  * {h['waiting']} job(s) of {held_what(h)}: {h['reason']}" for h in data)
                   or "  (no job is held back by a limit)")
        return
    for worker, value in data.items():
        click.echo(f"-> {printable(worker)}: {_inspect_reply(what, value)}")
        for line in _inspect_lines(what, value):
            click.echo(f"    {line}")
    if not data:
        click.echo("Error: No nodes replied (no live workers).", err=True)
        if what == "scheduled":  # the store holds them all the same: say so, never mislead
            click.echo(_scheduled_note(app.control.inspect().scheduled_in_store()), err=True)
        ctx.exit(1)


def _scheduled_note(count: int) -> str:
    if not count:
        return "The store holds no job waiting for its eta."
    return (f"Still, the store holds {count} job(s) waiting for their eta: they run once a worker consuming "
            "their queue is up (`litequeue status` shows them per queue).")


def _inspect_reply(what: str, value: Any) -> str:
    if what == "ping":
        return "OK pong"
    if isinstance(value, (list, dict)):
        return "OK" if value else "- empty -"
    return "OK"


def _inspect_lines(what: str, value: Any) -> list[str]:
    if what in ("active", "reserved"):
        return [_job_line(job).strip() for job in value]
    if what == "scheduled":
        return [_job_line(entry["request"]).strip() + f"  eta {when(entry['eta'])}" for entry in value]
    if what == "query_task":
        return [f"{state}: " + _job_line(info).strip().removeprefix("* ") for state, info in value.values()]
    if what == "conf":
        return [printable(f"{key}: {json.dumps(value[key], default=str)}") for key in sorted(value)]
    if what in ("registered", "revoked"):
        return [f"* {printable(item)}" for item in value]
    if what == "active_queues":
        return [f"* {q['name']} (routing key {q['routing_key']})" for q in value]
    if what == "stats":
        return [f"{key}: {value[key]}" for key in sorted(value)]
    return []


def _job_line(job: dict) -> str:
    flow = f"  [{render_flow(job['workflow'])}]" if job.get("workflow") else ""
    return printable(f"  * {job['id']}  {job['name']}  args={job['args']} kwargs={job['kwargs']}  {job['state']}{flow}")


COMMANDS = [inspect]
