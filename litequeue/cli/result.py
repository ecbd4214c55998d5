"""``litequeue result``: one job (or group) as the store holds it."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import browse, monitoring, states
from ..display import printable, printable_block, utc_datetime
from ..result import AsyncResult
from ..store import describe_url
from .common import DbFirstCommand, app_option, friendly_errors, load_app_readonly
from .output import paint, to_json, when
from .render import render_flow


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_id")
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print the job as a JSON object, for scripts.")
@click.pass_context
@friendly_errors
def result(ctx: click.Context, db: str, task_id: str, app_path: str | None, as_json: bool) -> None:
    """Show a job's state, result or error, progress, attempts, worker and times."""
    app = load_app_readonly(ctx, db, app_path)
    handle = AsyncResult(task_id, app=app)
    job = handle.job
    if job is None and app.store.group_info(task_id) is not None:  # the id of a group or chord
        click.echo(_render_group(app, task_id))
        return
    if job is None:
        raise click.ClickException(f"No job with id {task_id} in {describe_url(app.url or db)} (it was never sent, "
                                   "or was pruned).")
    if as_json:
        click.echo(to_json(browse.job_detail(app, job)))
        return
    running_state = job.custom_state if job.state in states.LEASED_STATES and job.custom_state else job.state
    p = printable  # a stored value is shown, never obeyed: no terminal controls, no forged lines
    click.echo(f"id:       {p(job.task_id)}\ntask:     {p(job.task)}\nstate:    {paint(p(running_state))}")
    click.echo(f"queue:    {p(job.queue)}")
    click.echo(f"attempts: {job.attempts}\nworker:   {p(job.worker or '-')}")
    for label, moment in (("sent", job.created_at), ("eta", job.eta), ("started", job.started_at),
                          ("done", job.done_at)):
        if moment:
            click.echo(f"{label + ':':9} {when(moment)}")
    if running_state != job.state:
        click.echo(f"progress: {json.dumps(handle.info, default=str)}")
    if job.state == states.IGNORED and job.custom_state:  # what Celery code reads for it
        click.echo(f"reported: {paint(p(job.custom_state))} {json.dumps(handle.info, default=str)}")
    if job.state == states.SUCCESS:
        click.echo(f"result:   {p(repr(handle.result))}")
    if job.exc_type:
        click.echo(f"error:    {p(job.exc_type)}: {p(job.exc_message)}")
    if job.traceback:
        click.echo(printable_block(job.traceback.rstrip()))
    flow = monitoring.workflow_of(app, job)
    if flow:
        click.echo(f"workflow: {printable(render_flow(flow))}")
    for entry in job.history:  # one line per failed attempt, oldest first
        failed_at = utc_datetime(entry["time"])
        click.echo(f"history:  attempt {entry['attempt']} at "
                   f"{failed_at.isoformat(timespec='seconds') if failed_at else when(entry['time'])} on "
                   f"{p(entry['worker'])}: {p(entry['exc_type'])}: {p(entry['message'])}")


def _render_group(app: Any, group_id: str) -> str:
    info = app.store.group_info(group_id)
    progress = monitoring.group_progress(app, group_id, info["size"])
    kind = "chord" if info["callback"] else "group"
    lines = [f"id:       {group_id}", f"{kind}:    {progress['members_done']}/{progress['members_total']} members "
             f"done ({', '.join(f'{n} {s}' for s, n in sorted(progress['states'].items()))})"]
    if info["callback"]:
        lines.append(f"join:     {info['state']}" + (f" (failed by {info['failed_member']})"
                                                     if info["failed_member"] else ""))
    return "\n".join(lines)


COMMANDS = [result]
