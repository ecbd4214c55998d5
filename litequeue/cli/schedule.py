"""Commands: ``litequeue beat`` (send the schedule's due jobs) and ``litequeue schedule`` (list
and change the schedule a running beat follows)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import click

from .. import browse, celery_settings
from ..crontab import crontab
from ..schedules import Entry, Schedule
from . import celery_flags
from .common import (
    APP_URL,
    LEVELS,
    DbFirstGroup,
    app_option,
    db_argument,
    friendly_errors,
    load_app,
    open_existing,
    setup_logging,
    store_to_create,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@click.command()
@db_argument
@app_option
@click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default="warning", show_default=True)
@click.option("-f", "--logfile", type=click.Path(dir_okay=False), help="Log to this file instead of stderr.")
@click.option("--max-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Longest sleep between looks at the schedule (how soon runtime changes are seen).")
@click.option("--create", is_flag=True,
              help="Create the store if DB does not exist yet (a new, empty one). Without it, beat refuses a "
                   "path with no store, unless it is the store its app (-A) names.")
@celery_flags.beat_flags
@click.pass_context
@friendly_errors
def beat(ctx: click.Context, db: str | None, app_path: str | None, loglevel: str, logfile: str | None,
         max_interval: float, create: bool) -> None:
    """Run beat: send each schedule entry's jobs when due. Safe to run more than once."""
    from ..beat import Beat

    setup_logging(loglevel, logfile)
    app = load_app(ctx, db, app_path)
    store_to_create(app.url, ctx.meta.get(APP_URL), create, "beat")  # a typo would fire into a new, empty file
    celery_flags.apply(ctx, app, "beat", logfile)
    celery_settings.announce(app.conf)  # Celery settings with no effect, said where they would matter
    ctx.exit(Beat(app, max_interval=max_interval).run())


@click.group(cls=DbFirstGroup, invoke_without_command=True)
@click.argument("db")
@app_option
@click.pass_context
def schedule(ctx: click.Context, db: str, app_path: str | None) -> None:
    """List the schedule in DB, or change it: pause, resume, remove, add. Running beats see
    changes within a second, without a restart."""
    # Only `add` may create the store (as the first job sent does); listing or changing entries
    # on a path with no store is a typo, refused rather than answered from a new, empty file.
    opener = load_app if ctx.invoked_subcommand == "add" else open_existing
    ctx.meta["lq_schedule"] = Schedule(opener(ctx, db, app_path))
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_entries)


def _schedule(ctx: click.Context) -> Schedule:
    return ctx.meta["lq_schedule"]


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@friendly_errors
def list_entries(ctx: click.Context, as_json: bool = False) -> None:
    """List entries: schedule, task, next and last fire, runs, state."""
    entries = _schedule(ctx).entries()
    if as_json:
        click.echo(json.dumps([browse.entry_dict(e) for e in entries], indent=2, default=str))
    elif not entries:
        click.echo("No schedule entries.")
    else:
        _table([("NAME", "SCHEDULE", "TASK", "NEXT FIRE", "LAST FIRE", "RUNS", "STATE", "FROM")]
               + [_columns(e) for e in entries])


@schedule.command()
@click.argument("name")
@click.pass_context
@friendly_errors
def pause(ctx: click.Context, name: str) -> None:
    """Stop firing NAME until it is resumed."""
    _schedule(ctx).pause(name)
    click.echo(f"Paused {name}.")


@schedule.command()
@click.argument("name")
@click.pass_context
@friendly_errors
def resume(ctx: click.Context, name: str) -> None:
    """Fire NAME again from now on."""
    entry = _schedule(ctx).resume(name)
    click.echo(f"Resumed {name}; next fire {_when(entry.next_fire)}.")


@schedule.command()
@click.argument("name")
@click.pass_context
@friendly_errors
def remove(ctx: click.Context, name: str) -> None:
    """Delete NAME (an entry added at runtime)."""
    _schedule(ctx).remove(name)
    click.echo(f"Removed {name}.")


@schedule.command()
@click.argument("name")
@click.option("--task", required=True, help="The task name, e.g. tasks.add.")
@click.option("--every", help="An interval: 30s, 5m, 1h, 2d or seconds.")
@click.option("--cron", "cron_line", help='A crontab line: "*/5 * * * *" (min hour day month weekday; 0/7 = Sunday).')
@click.option("--at", "at", help="Once, at this ISO date and time (naive = the entry's zone).")
@click.option("--args", "args_json", help='Positional arguments as a JSON list, e.g. "[2, 3]".')
@click.option("--kwargs", "kwargs_json", help="Keyword arguments as a JSON object.")
@click.option("--queue", help="Send to this queue.")
@click.option("--priority", type=int, help="Higher runs first within a queue.")
@click.option("--expires", type=float, help="Seconds after sending when a job not yet started is dropped.")
@click.option("--misfire", type=click.Choice(["once", "skip", "all"]), default="once", show_default=True)
@click.option("--misfire-grace", type=click.FloatRange(min=0), default=5.0, show_default=True)
@click.option("--misfire-limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--timezone", help="IANA zone for --cron and --at (default: the app's).")
@click.option("--replace", is_flag=True, help="Replace an entry of this name added earlier at runtime.")
@click.pass_context
@friendly_errors
def add(ctx: click.Context, name: str, task: str, every: str | None, cron_line: str | None, at: str | None,
        args_json: str | None, kwargs_json: str | None, queue: str | None, priority: int | None,
        expires: float | None, misfire: str, misfire_grace: float, misfire_limit: int,
        timezone: str | None, replace: bool) -> None:
    """Add entry NAME: give exactly one of --every, --cron, --at."""
    options = {k: v for k, v in (("queue", queue), ("priority", priority), ("expires", expires)) if v is not None}
    entry = _schedule(ctx).add(
        name, task, _when_option(every, cron_line, at), args=_json(args_json, "--args", list),
        kwargs=_json(kwargs_json, "--kwargs", dict), options=options, misfire=misfire,
        misfire_grace=misfire_grace, misfire_limit=misfire_limit, timezone=timezone, replace=replace)
    click.echo(f"Added {name}: {entry.schedule_text}, next fire {_when(entry.next_fire)}.")


# -- parsing and printing -------------------------------------------------------------------------

def _when_option(every: str | None, cron_line: str | None, at: str | None) -> Any:
    given = [v for v in (every, cron_line, at) if v]
    if len(given) != 1:
        raise click.UsageError("Give exactly one of --every 30s, --cron '*/5 * * * *' or --at 2030-01-01T07:00.")
    if every:
        return _duration(every)
    if cron_line:
        return crontab.from_cron_line(cron_line)
    try:
        return dt.datetime.fromisoformat(at or "")
    except ValueError:
        raise click.BadParameter(f"not an ISO date and time: {at!r} (e.g. 2030-01-01T07:00)",
                                 param_hint="--at") from None


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(f"not a positive interval: {text!r} (e.g. 30s, 5m, 1h, 2d)", param_hint="--every")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _json(value: str | None, what: str, kind: type) -> Any:
    if value is None:
        return kind()
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg}): {value}", param_hint=what) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {'list' if kind is list else 'object'}", param_hint=what)
    return parsed


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment is not None else "-"


def _state(entry: Entry) -> str:
    return "paused" if entry.paused else ("done" if entry.next_fire is None else "active")


def _columns(e: Entry) -> tuple[str, ...]:
    return (e.name, e.schedule_text, e.task, _when(e.next_fire), _when(e.last_fire), str(e.runs), _state(e), e.origin)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


COMMANDS = [beat, schedule]
