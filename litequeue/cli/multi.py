"""``litequeue multi``: start workers in the background, and stop, restart, kill or show them.

Each worker is named by its node name (``w1``; its full name is ``w1@host``) and found again
through its pidfile, which the running worker keeps locked. Celery's placeholders work in
``--pidfile`` and ``--logfile``: ``%n`` node name, ``%h`` host name, ``%p`` full name
(``w1@host``), ``%d`` domain, ``%i`` pool process index (0: the main process), ``%I`` the same
with a separator (empty for the main process), ``%%`` a percent sign.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ..app import LiteQueue
from ..store import Store
from ..worker.detached import DetachError, Pidfile, start_detached
from ..worker.options import WorkerOptions
from .common import LEVELS, app_option, friendly_errors, looks_like_database, store_to_create
from .worker_options import expand, worker_argv, worker_flags

DEFAULT_PIDFILE = "%n.pid"
DEFAULT_LOGFILE = "%n%I.log"


@dataclass(frozen=True)
class Node:
    """One named worker: its names, pidfile and log file."""

    name: str  # node name: w1
    fullname: str  # w1@host
    pidfile: Pidfile
    logfile: str


def nodes(names: tuple[str, ...], pidfile: str, logfile: str) -> list[Node]:
    hostname = socket.gethostname()
    found = []
    for name in names:
        full = name.replace("%h", hostname) if "@" in name else f"{name}@{hostname}"
        WorkerOptions(name=full)  # refuses a name a worker would refuse
        found.append(Node(full.partition("@")[0], full, Pidfile(expand(pidfile, full)),
                          os.path.abspath(expand(logfile, full))))
    return found


@click.group()
def multi() -> None:
    """Start and stop workers that run in the background (Celery's multi).

    \b
    litequeue multi start w1 w2 app.sqlite -A tasks -l info -c 2
    litequeue multi show w1 w2 app.sqlite -A tasks
    litequeue multi stopwait w1 w2
    """


def _names_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("names", nargs=-1, required=True, metavar="NAME...")(fn)


def _pidfile_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--pidfile", default=DEFAULT_PIDFILE, show_default=True,
                        help="Pidfile of each worker (placeholders: %n %h %p %i %I).")(fn)


def _start_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        _names_argument, click.argument("db"), app_option,
        worker_flags,
        click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default="info",
                     show_default=True),
        _pidfile_option,
        click.option("--logfile", default=DEFAULT_LOGFILE, show_default=True,
                     help="Log file of each worker (placeholders: %n %h %p %i %I)."),
        click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
                     help="Seconds to wait for each worker to report ready."),
        click.option("--create", is_flag=True, help="Create the store if DB does not exist yet (a new, empty one)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return click.pass_context(friendly_errors(fn))


def _stop_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--timeout", type=click.FloatRange(min=0), help="Give up waiting after this many seconds.")(fn)
    return _names_argument(_pidfile_option(friendly_errors(fn)))


@multi.command()
@_start_options
def start(ctx: click.Context, names: tuple[str, ...], db: str, **options: Any) -> None:
    """Start workers NAME... on DB in the background (they survive the terminal closing)."""
    _start(ctx, names, db, options)


@multi.command()
@_stop_options
def stop(names: tuple[str, ...], pidfile: str, timeout: float | None) -> None:
    """Ask workers to stop (SIGTERM: they finish their running jobs first); do not wait."""
    _stop(nodes(_check_names(names), pidfile, DEFAULT_LOGFILE), signal.SIGTERM, wait=False, timeout=timeout)


@multi.command()
@_stop_options
def stopwait(names: tuple[str, ...], pidfile: str, timeout: float | None) -> None:
    """Stop workers (SIGTERM) and wait until they have exited; their pidfiles are removed."""
    _stop(nodes(_check_names(names), pidfile, DEFAULT_LOGFILE), signal.SIGTERM, wait=True, timeout=timeout)


@multi.command()
@_stop_options
def kill(names: tuple[str, ...], pidfile: str, timeout: float | None) -> None:
    """Kill workers at once (SIGKILL); their running jobs go back to the queue when their leases end."""
    _stop(nodes(_check_names(names), pidfile, DEFAULT_LOGFILE), signal.SIGKILL, wait=True, timeout=timeout)


@multi.command()
@_start_options
def restart(ctx: click.Context, names: tuple[str, ...], db: str, **options: Any) -> None:
    """Stop workers NAME... (waiting for them), then start them again with these options."""
    _stop(nodes(names, options["pidfile"], options["logfile"]), signal.SIGTERM, wait=True, timeout=None)
    _start(ctx, names, db, options)


@multi.command()
@_start_options
def show(ctx: click.Context, names: tuple[str, ...], db: str, **options: Any) -> None:
    """Show whether each worker runs, and its command line: the running process's own (read from
    the system), or, for a worker not running, the one start would use."""
    if not looks_like_database(db):  # `multi show w1 w2`: w2 is a worker, not the database
        names, db = (*names, db), ""
    for node in nodes(names, options["pidfile"], options["logfile"]):
        pid = node.pidfile.running_pid()
        click.echo(f"> {node.fullname}: {f'running (pid {pid})' if pid else 'not running'}")
        running = _command_of(pid) if pid else None
        if running:
            click.echo("  " + shlex.join(running))
        elif not db:
            click.echo("  (give DB, and start's options, to see the command start would use)")
        else:
            click.echo(("  would start: " if not pid else "  (its command line cannot be read here) ")
                       + shlex.join(_worker_argv(ctx, node, db, options)))


def _command_of(pid: int) -> list[str] | None:
    """The command line of the process ``pid`` as it was started, where the system shows it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg] or None
    except OSError:
        return None


# -- the work behind the commands ------------------------------------------------------------------


def _start(ctx: click.Context, names: tuple[str, ...], db: str, options: dict[str, Any]) -> None:
    missing = store_to_create(db, None, options.get("create", False))  # a typo is refused, naming --create
    store = LiteQueue(db).store  # a database the workers could not open is refused before any starts
    if missing is not None:
        click.echo(f"> created a new, empty store at {missing}")
    try:
        failed = _start_each(ctx, store, names, db, options)
    finally:
        store.close()
    if failed:
        raise click.ClickException(f"{failed} of {len(names)} worker(s) did not start.")


def _start_each(ctx: click.Context, store: Store, names: tuple[str, ...], db: str, options: dict[str, Any]) -> int:
    started, failed = [], 0
    for node in nodes(names, options["pidfile"], options["logfile"]):
        if node.pidfile.remove_if_stale():
            click.echo(f"> {node.fullname}: removed the stale pidfile {node.pidfile.path}")
        try:
            pid = start_detached(_worker_argv(ctx, node, db, options), node.pidfile, node.logfile)
        except DetachError as exc:
            click.echo(f"> {node.fullname}: NOT STARTED: {exc.message}", err=True)
            failed += 1
            continue
        started.append((node, pid))
    return failed + _await_ready(store, started, options["timeout"])


def _await_ready(store: Store, started: list[tuple[Node, int]], timeout: float) -> int:
    """Wait until each started worker has registered in the store; report each. Returns failures."""
    waiting = {node.fullname: (node, pid) for node, pid in started}
    failed = 0
    deadline = time.monotonic() + timeout
    while waiting:
        ready = {w.name for w in store.workers()
                 if w.stopped_at is None and w.name in waiting and waiting[w.name][1] == w.pid}
        for fullname, (node, pid) in list(waiting.items()):
            if fullname in ready:
                click.echo(f"> {fullname}: OK (pid {pid}, log {node.logfile})")
            elif not node.pidfile.is_locked():
                click.echo(f"> {fullname}: FAILED: it exited at start: {_last_line(node.logfile)}", err=True)
                node.pidfile.remove()
                failed += 1
            elif time.monotonic() > deadline:
                click.echo(f"> {fullname}: NOT READY after {timeout:g}s (pid {pid}); see {node.logfile}",
                           err=True)
                failed += 1
            else:
                continue
            del waiting[fullname]
        if waiting:
            time.sleep(0.05)
    return failed


def _stop(targets: list[Node], signum: int, wait: bool, timeout: float | None) -> None:
    sent = []
    for node in targets:
        if node.pidfile.remove_if_stale():
            click.echo(f"> {node.fullname}: not running (removed the stale pidfile)")
            continue
        pid = node.pidfile.signal(signum)
        if pid is None:
            click.echo(f"> {node.fullname}: not running")
            continue
        click.echo(f"> {node.fullname}: {signal.Signals(signum).name} sent (pid {pid})")
        sent.append(node)
    if not wait:
        return
    stuck = []
    for node in sent:
        if node.pidfile.wait_released(timeout):
            node.pidfile.remove()
            click.echo(f"> {node.fullname}: stopped")
        else:
            stuck.append(node.fullname)
    if stuck:
        raise click.ClickException(f"Still running after {timeout:g}s: {', '.join(stuck)}. Wait longer, or use "
                                   "multi kill.")


def _worker_argv(ctx: click.Context, node: Node, db: str, options: dict[str, Any]) -> list[str]:
    app_path = options.get("app_path") or (ctx.obj.app_path if ctx.obj else None)
    argv = [sys.executable, "-m", "litequeue", "worker", db, "-n", node.fullname, "-l", options["loglevel"],
            "-f", node.logfile]
    if app_path:
        argv += ["-A", app_path]
    argv += worker_argv(options)
    return argv


def _check_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if "/" in name or name.endswith((".sqlite", ".sqlite3", ".db")) or name.startswith("sqlite:"):
            raise click.ClickException(f"{name} looks like a database path; this command takes only worker names "
                                       "(and --pidfile), e.g. litequeue multi stopwait w1 w2.")
    return names


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return f"see {path}"
    return (lines[-1] if lines else "no output") + f" (see {path})"


COMMANDS = [multi]
