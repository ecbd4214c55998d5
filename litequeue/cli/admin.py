"""Commands that look at or change the store: call, result, status, inspect, revoke, purge, prune."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import inspect as inspect_module
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .. import browse, monitoring, states
from ..app import LiteQueue
from ..display import printable, printable_block, utc_datetime
from ..errors import LiteQueueError
from ..result import AsyncResult
from ..store import describe_url, is_postgres_url
from ..store.sqlite import path_from_url
from .common import DbFirstCommand, app_option, friendly_errors, load_app, load_app_readonly, split_list
from .output import paint, to_json, when


def _json_arg(value: str | None, what: str, kind: type) -> object:
    if value is None:
        return kind()
    example = "'[2, 3]'" if kind is list else '\'{"x": 1}\''
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{what} is not valid JSON ({exc.msg} at position {exc.pos}): {value}; "
                                   f"write it like {what} {example}.") from None
    if not isinstance(parsed, kind):
        raise click.ClickException(f"{what} must be a JSON {'list' if kind is list else 'object'}, "
                                   f"like {what} {example}; got {value}.")
    return parsed


class _Time(click.ParamType):
    """Seconds from now, or an ISO-8601 time (UTC when it names no zone, as Celery reads a naive eta)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is neither seconds nor an ISO-8601 time like 2030-01-31T09:00:00Z.", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


TIME = _Time()


def check_call(app: LiteQueue, name: str, args: list, kwargs: dict) -> None:
    """Refuse a task the app does not register, or arguments its function cannot take."""
    task = app.tasks.get(name)
    if task is None:
        near = difflib.get_close_matches(name, list(app.tasks), n=1)
        hint = f" Did you mean {near[0]}?" if near else " `litequeue inspect DB registered -A ...` lists them."
        raise click.ClickException(f"The app registers no task named {name!r}.{hint}")
    fun = getattr(task, "fun", None) or task.run  # the function as written (run of a Task subclass)
    bound = getattr(getattr(task, "options", None), "bind", False) and fun is not task.run
    try:
        signature = inspect_module.signature(fun)
    except (TypeError, ValueError):
        return  # a callable whose signature Python cannot read: the worker will tell
    try:
        signature.bind(*((None,) if bound else ()), *args, **kwargs)
    except TypeError as exc:
        raise click.ClickException(f"{name}{signature} cannot take --args {json.dumps(args)} "
                                   f"--kwargs {json.dumps(kwargs)}: {exc}.") from None


def _wait_for(result: AsyncResult, timeout: float | None) -> None:
    try:
        value = result.get(timeout=timeout, propagate=False)
    except LiteQueueError as exc:  # the timeout
        raise click.ClickException(exc.message) from None
    if result.state == states.SUCCESS:
        click.echo(to_json(value) if not isinstance(value, str) else value)
        return
    job = result.job
    raise click.ClickException(f"{result.id} ended {result.state}"
                               + (f": {job.exc_type}: {job.exc_message}" if job and job.exc_type else "."))


def open_existing(ctx: click.Context, db: str, app_path: str | None) -> LiteQueue:
    """The app on ``db``, refusing a database file that does not exist (a typo would otherwise
    create an empty one and report that it holds nothing)."""
    app = load_app(ctx, db, app_path)
    url = app.url or ""
    path = path_from_url(url) if not is_postgres_url(url) else None
    if path is not None and not os.path.exists(path):
        raise click.ClickException(f"No database at {path}; check the path (a worker or the first "
                                   "job sent creates it).")
    return app


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("task_name")
@app_option
@click.option("--args", "args_json", help='Positional arguments as a JSON list, e.g. "[2, 3]".')
@click.option("--kwargs", "kwargs_json", help='Keyword arguments as a JSON object.')
@click.option("--countdown", type=float, help="Run no sooner than this many seconds from now.")
@click.option("--eta", type=TIME, help="Run no sooner than this time (ISO-8601; without a zone: UTC).")
@click.option("--expires", type=TIME, metavar="SECONDS|TIME", help="Revoke it if not started by then.")
@click.option("--queue", help="Send to this queue.")
@click.option("--priority", type=int, help="Higher runs first within a queue.")
@click.option("--wait", is_flag=True, help="Wait for the job to end; print its result (exit 1 if it failed).")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --wait: give up after this many seconds.")
@click.pass_context
@friendly_errors
def call(ctx: click.Context, db: str, task_name: str, app_path: str | None, args_json: str | None,
         kwargs_json: str | None, countdown: float | None, eta: Any, expires: Any, queue: str | None,
         priority: int | None, wait: bool, timeout: float | None) -> None:
    """Send a job of TASK_NAME; prints its id (and with --wait, its result)."""
    app = load_app(ctx, db, app_path)
    given = (("countdown", countdown), ("eta", eta), ("expires", expires), ("queue", queue), ("priority", priority))
    options: dict[str, Any] = {k: v for k, v in given if v is not None}
    args, kwargs = _json_arg(args_json, "--args", list), _json_arg(kwargs_json, "--kwargs", dict)
    if app_path or (ctx.obj and ctx.obj.app_path):
        check_call(app, task_name, args, kwargs)  # type: ignore[arg-type]
    result = app.send_task(task_name, args, kwargs, **options)
    click.echo(result.id)
    if wait:
        _wait_for(result, timeout)


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
        raise click.ClickException(f"No job with id {task_id} in {db} (it was never sent, or was pruned).")
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
            click.echo(f"{label + ':':9} {_when(moment)}")
    if running_state != job.state:
        click.echo(f"progress: {json.dumps(handle.info, default=str)}")
    if job.state == states.SUCCESS:
        click.echo(f"result:   {p(repr(handle.result))}")
    if job.exc_type:
        click.echo(f"error:    {p(job.exc_type)}: {p(job.exc_message)}")
    if job.traceback:
        click.echo(printable_block(job.traceback.rstrip()))
    flow = monitoring.workflow_of(app, job)
    if flow:
        click.echo(f"workflow: {printable(_render_flow(flow))}")
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


def _render_flow(flow: dict) -> str:
    parts = []
    if "group" in flow:
        g = flow["group"]
        parts.append(f"{'chord' if g['chord'] else 'group'} {g['id']} member {g['index']}, "
                     f"{g['members_done']}/{g['members_total']} done" +
                     (f", join {g['chord_state']}" if g.get("chord_state") else ""))
    if "chain" in flow:
        parts.append(f"chain step {flow['chain']['step']} of {flow['chain']['of']}")
    if flow.get("next"):
        parts.append(f"then {' | '.join(map(str, flow['next']))}")
    for key in ("link", "link_error"):
        if flow.get(key):
            parts.append(f"{key} {', '.join(map(str, flow[key]))}")
    return "; ".join(parts)


# -- status and inspect ---------------------------------------------------------------------------


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


def _held_what(held: dict) -> str:
    return f"queue {held['queue']}" if held["queue"] and not held["task"] else f"task {held['task']}"


def _paint_last(line: str) -> str:
    """The line with its last word (a state, at the end of a table row) in its colour."""
    head, _, word = line.rpartition(" ")
    return f"{head} {paint(word)}" if head else line


def _render_status(data: dict) -> str:
    p = printable
    lines = [f"litequeue status of {p(data['database'])} at {when(data['time'])}", ""]
    lines += _table(["QUEUE", "QUEUED", "SCHEDULED", "RESERVED", "RUNNING", "RETRYING", "FAILED", "DONE 1H",
                     "OLDEST WAITING"],
                    [[p(q["queue"]), q["queued"], q["scheduled"], q["reserved"], q["running"], q["retrying"],
                      q["failed"], q["done_last_hour"], _age(q["oldest_waiting_seconds"])] for q in data["queues"]])
    workers = _table(["WORKER", "HOST", "PID", "CONC", "QUEUES", "HEARTBEAT", "DONE", "STATUS"],
                     [[p(w["name"]), p(w["hostname"]), w["pid"], w["concurrency"], p(",".join(w["queues"])),
                       _age(w["heartbeat_age"]) + " ago", w["processed"], w["status"].upper()
                       if w["status"] in ("lost", "dead") else w["status"]] for w in data["workers"]])
    lines += [""] + [_paint_last(line) for line in workers]
    if data.get("held_back"):
        lines += ["", "HELD BACK"]
        lines += [f"  {h['waiting']} job(s) of {_held_what(h)}: {h['reason']}" for h in data["held_back"]]
    if data.get("workflows"):
        lines += [""] + _table(["GROUP / CHORD (LAST HOUR)", "KIND", "DONE", "JOIN"],
                               [[g["id"], "chord" if g["chord"] else "group",
                                 f"{g['members_done']}/{g['members_total']}", g["state"] if g["chord"] else "-"]
                                for g in data["workflows"]])
    if data["running"]:
        lines += ["", "RUNNING"]
        for job in data["running"]:
            progress = f" {json.dumps(job['progress'], default=str)}" if job["progress"] is not None else ""
            lines.append(f"  {p(job['id'])}  {p(job['name'])}  on {p(job['worker'])}  for {_age(job['runtime'])}  "
                         f"{p(job['state'])}{p(progress)}")
    return "\n".join(lines)


INSPECT_METHODS = ["active", "reserved", "scheduled", "registered", "revoked", "stats", "active_queues", "ping",
                   "held_back"]


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.argument("what", type=click.Choice(INSPECT_METHODS))
@app_option
@click.option("-d", "--destination", help="Only these workers, comma-separated.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@click.pass_context
@friendly_errors
def inspect(ctx: click.Context, db: str, what: str, app_path: str | None, destination: str | None,
            as_json: bool) -> None:
    """Celery's inspect, read from the store, per live worker: the jobs it runs (active), has
    claimed (reserved), would run at their eta (scheduled); the tasks it knows (registered, needs
    -A), revoked ids, its queues (active_queues), statistics (stats), a pong (ping); and, from the
    store, due jobs a rate or concurrency limit holds back, with the reason (held_back)."""
    if what == "registered" and not (app_path or (ctx.obj and (ctx.obj.app_path or ctx.obj.app))):
        raise click.ClickException("inspect registered lists the tasks of your app: give it with -A module.")
    app = load_app_readonly(ctx, db, app_path)
    data = getattr(app.control.inspect(split_list(destination)), what)()
    if as_json:
        click.echo(to_json(data))
        return
    if what == "held_back":  # a question about the store, not the workers
        click.echo("\n".join(f"  * {h['waiting']} job(s) of {_held_what(h)}: {h['reason']}" for h in data)
                   or "  (no job is held back by a limit)")
        return
    for worker, value in data.items():
        click.echo(f"-> {printable(worker)}: {_inspect_reply(what, value)}")
        for line in _inspect_lines(what, value):
            click.echo(f"    {line}")
    if not data:
        click.echo("Error: No nodes replied (no live workers).", err=True)
        ctx.exit(1)


def _inspect_reply(what: str, value: Any) -> str:
    if what == "ping":
        return "OK pong"
    if isinstance(value, list):
        return "OK" if value else "- empty -"
    return "OK"


def _inspect_lines(what: str, value: Any) -> list[str]:
    if what in ("active", "reserved"):
        return [_job_line(job).strip() for job in value]
    if what == "scheduled":
        return [_job_line(entry["request"]).strip() + f"  eta {when(entry['eta'])}" for entry in value]
    if what in ("registered", "revoked"):
        return [f"* {printable(item)}" for item in value]
    if what == "active_queues":
        return [f"* {q['name']} (routing key {q['routing_key']})" for q in value]
    if what == "stats":
        return [f"{key}: {value[key]}" for key in sorted(value)]
    return []


def _job_line(job: dict) -> str:
    flow = f"  [{_render_flow(job['workflow'])}]" if job.get("workflow") else ""
    return printable(f"  * {job['id']}  {job['name']}  args={job['args']} kwargs={job['kwargs']}  {job['state']}{flow}")


# -- changing the store ---------------------------------------------------------------------------


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
        raise click.ClickException(f"No job with id {', '.join(unknown)} in {db}; nothing was revoked.")
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
    if state == states.STARTED:
        if terminate:
            return "running; its worker will stop it"
        return "running; told (its self.is_revoked() is now true), left to finish (--terminate stops it)"
    return f"already over ({state}); nothing to do"


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
        click.echo(f"No waiting jobs in {where}; nothing to purge.")
        return
    if not force:
        click.confirm(f"Delete {total} waiting job(s) from {where} in {db}?", abort=True, err=True)
    deleted = _in_batches(lambda: app.store.purge(queue, batch=BATCH), total, "Purging")
    click.echo(f"Purged {deleted} waiting job(s) from {where}.")


@click.command(cls=DbFirstCommand)
@click.argument("db")
@click.option("--older-than", "older_than", default="7d", show_default=True, metavar="AGE",
              help="Finished longer ago than this: 90s, 30m, 12h, 7d, 2w.")
@click.option("--state", "state_names", default="SUCCESS,FAILURE,REVOKED", show_default=True,
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


# -- formatting -----------------------------------------------------------------------------------


def _when(epoch: float) -> str:
    return when(epoch)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return [f"{headers[0].lower()}s: none"]
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            .rstrip() for row in cells]


def _file_size(path: str) -> int:
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix))


COMMANDS = [call, result, status, inspect, revoke, purge, prune]
