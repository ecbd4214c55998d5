"""``litequeue purge`` and ``prune``: delete waiting jobs, or finished ones, in short batches."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .. import states
from ..store import describe_url
from ..store.sqlite import path_from_url
from .common import DbFirstCommand, app_option, friendly_errors, open_existing


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.option("-Q", "--queue", help="Only this queue (default: every queue).")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@app_option
@click.pass_context
@friendly_errors
def purge(ctx: click.Context, db: str, queue: str | None, force: bool, app_path: str | None) -> None:
    """Delete every waiting job (queued, scheduled or waiting to retry). Running and finished jobs stay."""
    app = open_existing(ctx, db, app_path)
    total = app.store.count_jobs(states.WAITING_STATES, queue=queue)
    where = f"queue {queue}" if queue else "every queue"
    reserved = app.store.count_jobs([states.RESERVED], queue=queue)
    if reserved:
        click.echo(f"{reserved} job(s) in {where} are reserved by workers (claimed ahead, not begun) and are "
                   "not purged; revoke them to stop them running.")
    if not total:
        click.echo(f"No waiting jobs in {f'queue {queue}' if queue else 'any queue'}; nothing to purge.")
        return
    if not force:
        click.confirm(f"Delete {total} waiting job(s) from {where} in {describe_url(app.url or db)}?", abort=True,
                      err=True)
    deleted = _in_batches(lambda: app.store.purge(queue, batch=BATCH), total, "Purging")
    click.echo(f"Purged {deleted} waiting job(s) from {where}.")


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.option("--older-than", "older_than", default="7d", show_default=True, metavar="AGE",
              help="Finished longer ago than this: 90s, 30m, 12h, 7d, 2w.")
@click.option("--state", "state_names", default="SUCCESS,FAILURE,REVOKED,IGNORED", show_default=True,
              help="Only jobs that ended in these states, comma-separated.")
@click.option("--vacuum", is_flag=True, help="Then give the freed space back to the filesystem (VACUUM).")
@app_option
@click.pass_context
@friendly_errors
def prune(ctx: click.Context, db: str, older_than: str, state_names: str, vacuum: bool, app_path: str | None) -> None:
    """Delete finished jobs and their results."""
    seconds = parse_age(older_than)
    chosen = _finished_states(state_names)
    app = open_existing(ctx, db, app_path)
    before = time.time() - seconds
    total = app.store.count_jobs(chosen, done_before=before)
    deleted = _in_batches(lambda: app.store.prune(before, chosen, batch=BATCH), total, "Pruning")
    click.echo(f"Pruned {deleted} job(s) ({', '.join(chosen)}) finished more than {older_than} ago.")
    if vacuum:
        path = path_from_url(db)
        size = _file_size(path) if os.path.isfile(path) else None
        app.store.vacuum()
        sizes = f": {size:,} -> {_file_size(path):,} bytes" if size is not None else ""
        click.echo(f"Vacuumed {describe_url(db)}{sizes}.")


BATCH = 500  # rows per short write transaction in purge and prune
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or plain seconds -> seconds."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS else "s"
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise click.ClickException(f"--older-than {text!r} is not an age; write it like 90s, 30m, 12h, 7d or 2w.")
    return seconds


def _finished_states(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    wrong = [s for s in chosen if s not in states.READY_STATES]
    if wrong or not chosen:
        raise click.ClickException(f"--state {text!r}: prune deletes finished jobs only; use "
                                   f"{', '.join(sorted(states.READY_STATES))} (comma-separated).")
    return chosen


def _in_batches(step: Callable[[], int], total: int, label: str) -> int:
    """Run ``step`` until it deletes nothing; a progress bar on a terminal, silence when piped."""
    done = 0
    with _progress(total, label) as bar:
        while True:
            n = step()
            if not n:
                return done
            done += n
            bar.update(n)


class _Quiet:
    def update(self, n: int) -> None:
        pass


def _progress(total: int, label: str) -> Any:
    if sys.stderr.isatty() and total > BATCH:
        return click.progressbar(length=total, label=label, file=sys.stderr)
    return contextlib.nullcontext(_Quiet())


def _file_size(path: str) -> int:
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix))


COMMANDS = [purge, prune]
