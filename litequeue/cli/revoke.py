"""``litequeue revoke``: cancel jobs for good, by id or by task and queue."""

from __future__ import annotations

import click

from .. import states
from ..app import LiteQueue
from ..store import describe_url
from .cleanup import BATCH
from .common import DbFirstCommand, app_option, friendly_errors, open_existing


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every waiting job (with --terminate, running ones too).")
@click.option("--task", "task_name", metavar="NAME", help="Every waiting job of this task.")
@click.option("--queue", help="Every waiting job of this queue.")
@click.option("--terminate", is_flag=True, help="Also stop jobs that are running (their child is killed).")
@click.option("-f", "--force", is_flag=True, help="With --all/--task/--queue: do not ask for confirmation.")
@app_option
@click.pass_context
@friendly_errors
def revoke(ctx: click.Context, db: str, task_ids: tuple[str, ...], every: bool, task_name: str | None,
           queue: str | None, terminate: bool, force: bool, app_path: str | None) -> None:
    """Cancel jobs for good: a waiting or scheduled job never runs, even if no worker is up now.

    Name jobs by ID, or pick every waiting job (--all), those of one task (--task) or one queue
    (--queue; --task and --queue combine). With --terminate, running jobs are stopped too and
    end REVOKED."""
    if bool(task_ids) == bool(every or task_name or queue) or (every and (task_name or queue)):
        raise click.UsageError("Give job IDs, or --all, or --task NAME and/or --queue NAME.")
    app = open_existing(ctx, db, app_path)
    if not task_ids:
        _revoke_matching(app, task_name, queue, terminate, force)
        return
    jobs = {task_id: app.store.get(task_id) for task_id in task_ids}
    unknown = [task_id for task_id, job in jobs.items() if job is None]
    if unknown:
        raise click.ClickException(f"No job with id {', '.join(unknown)} in {describe_url(app.url or db)}; "
                                   "nothing was revoked.")
    app.control.revoke(list(task_ids), terminate=terminate)
    for task_id, job in jobs.items():
        assert job is not None
        click.echo(f"{task_id}: {_revoked_note(job.state, terminate)}")


def _revoke_matching(app: LiteQueue, task: str | None, queue: str | None, terminate: bool, force: bool) -> None:
    held = (states.RESERVED, states.STARTED) if terminate else (states.RESERVED,)  # reserved: never runs
    chosen = (*states.WAITING_STATES, *held)
    ids = app.store.job_ids(chosen, task, queue)
    what = " and ".join(f"{k} {v}" for k, v in (("task", task), ("queue", queue)) if v) or "every queue"
    if not ids:
        click.echo(f"No {'waiting or running' if terminate else 'waiting'} jobs of {what}; nothing to revoke.")
        return
    if not force:
        click.confirm(f"Revoke {len(ids)} job(s) of {what}?", abort=True, err=True)
    done = sum(app.store.revoke(ids[i:i + BATCH], terminate=terminate) for i in range(0, len(ids), BATCH))
    click.echo(f"Revoked {done} job(s) of {what}" + (" (running ones are being stopped)." if terminate else "."))


def _revoked_note(state: str, terminate: bool) -> str:
    if state in states.WAITING_STATES:
        return "revoked"
    if state == states.RESERVED:
        return "reserved by a worker, not begun; it will not run"
    if state == states.REPLACED:
        return "replaced (self.replace); its replacement's last job, which takes this id, will not run"
    if state == states.STARTED:
        if terminate:
            return "running; its worker will stop it"
        return "running; told (its self.is_revoked() is now true), left to finish (--terminate stops it)"
    return f"already over ({state}); nothing to do"


COMMANDS = [revoke]
