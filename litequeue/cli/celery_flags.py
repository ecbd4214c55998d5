"""Celery's worker and beat flags, so Procfiles and systemd units written for Celery run as they are.

Flags with a meaning here work: ``--pidfile`` (a locked pidfile, refused while another process
holds it), ``--detach`` (run in the background, as ``litequeue multi`` does), ``-n`` with ``%h``,
``%n`` and ``%d``, ``--prefetch-multiplier``, ``--purge``. Flags that change nothing here (no
gossip, mingle or event stream; beat keeps its schedule in the store) are accepted and named once,
at start, as having no effect.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import ConfigurationError

log = logging.getLogger("litequeue.cli")

# Celery flags accepted without effect: (option declarations, what to say).
_NO_EFFECT_WORKER = (
    (("--without-gossip",), "there is no gossip between workers; they meet in the store"),
    (("--without-mingle",), "there is nothing to synchronise at start; revocations live in the store"),
    (("--without-heartbeat",), "event heartbeats are not sent; workers heartbeat in the store"),
    (("-E", "--task-events"), "no event stream is sent; status and inspect read the store"),
    (("--heartbeat-interval",), "set worker_heartbeat_interval instead"),
    (("-s", "--schedule", "--schedule-filename"), "beat keeps its schedule in the store"),
    (("--statedb",), "revocations live in the store"),
)
_NO_EFFECT_BEAT = (
    (("-s", "--schedule", "--schedule-filename"), "beat keeps its schedule in the store"),
)
_VALUED = {"--heartbeat-interval", "-s", "--schedule", "--schedule-filename", "--statedb"}


def worker_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The Celery worker flags (see the module docstring), gathered into ``celery_flags``."""
    return _flags(fn, _NO_EFFECT_WORKER, worker=True)


def beat_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The Celery beat flags, gathered into ``celery_flags``."""
    return _flags(fn, _NO_EFFECT_BEAT, worker=False)


def _flags(fn: Callable[..., Any], no_effect: tuple, worker: bool) -> Callable[..., Any]:
    def gather(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta.setdefault("celery_flags", {})[param.name] = value
        return value

    for decls, why in no_effect:
        valued = decls[0] in _VALUED
        name = decls[-1].lstrip("-").replace("-", "_") if decls[-1].startswith("--") else "optimization"
        fn = click.option(*decls, name, is_flag=not valued, default=None, expose_value=False, callback=gather,
                          hidden=False, help=f"Accepted for Celery; no effect: {why}.")(fn)
    fn = click.option("--pidfile", default=None, expose_value=False, callback=gather,
                      help="Write the pid here (locked while running; refused if another process holds it).")(fn)
    fn = click.option("--detach", "-D", "detach", is_flag=True, default=False, expose_value=False, callback=gather,
                      help="Run in the background (log to --logfile, default %n.log; pidfile %n.pid).")(fn)
    if worker:
        fn = click.option("--prefetch-multiplier", type=click.IntRange(min=1), default=None, expose_value=False,
                          callback=gather, help="Jobs claimed ahead per child (worker_prefetch_multiplier).")(fn)
        fn = click.option("--purge", "--discard", "purge", is_flag=True, default=False, expose_value=False,
                          callback=gather, help="Delete every waiting job before starting (asks nothing).")(fn)
    else:
        fn = click.option("-S", "--scheduler", default=None, expose_value=False, callback=gather,
                          help="Accepted for Celery's default scheduler only: beat's schedule is in the store.")(fn)
    return fn


def apply(ctx: click.Context, app: Any, name: str | None, logfile: str | None) -> None:
    """Act on the gathered flags before the worker or beat starts: say which have no effect,
    detach, take the pidfile, set the prefetch multiplier, purge."""
    flags = {k: v for k, v in ctx.meta.get("celery_flags", {}).items() if v not in (None, False)}
    scheduler = flags.pop("scheduler", None)
    if scheduler not in (None, "celery.beat:PersistentScheduler", "celery.beat.PersistentScheduler"):
        raise ConfigurationError(f"--scheduler {scheduler} is not supported: beat keeps its schedule in the "
                                 "store; change entries with `litequeue schedule`. Remove the option.")
    for key in sorted(set(flags) - {"pidfile", "detach", "prefetch_multiplier", "purge"}):
        log.warning("Celery option --%s has no effect with litequeue; ignored.", key.replace("_", "-"))
    node = (name or f"worker-{os.getpid()}@{socket.gethostname()}").partition("@")[0]
    if flags.get("detach"):
        _detach(ctx, flags.get("pidfile") or f"{node}.pid", logfile or f"{node}.log")
    elif flags.get("pidfile"):
        hold_pidfile(flags["pidfile"])
    if flags.get("prefetch_multiplier"):
        app.conf.worker_prefetch_multiplier = flags["prefetch_multiplier"]
    if flags.get("purge"):
        log.warning("--purge: deleted %d waiting job(s).", app.store.purge())


def hold_pidfile(path: str) -> None:
    """Lock ``path`` and write this process's pid in it until the process exits."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with open(path) as f:
            pid = f.read().strip()
        os.close(fd)
        raise ConfigurationError(f"Pidfile {path} is held by a running process (pid {pid}); stop it first, "
                                 "or give another --pidfile.") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    atexit.register(_remove, path, os.getpid())


def _remove(path: str, owner: int) -> None:
    if os.getpid() != owner:  # a forked child exiting: the file is the worker's
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_detached_copy = False  # this process is the detached copy (it ends with its command)


def end_detached_copy(code: object) -> None:
    """In the detached copy, end the process when its command ends: it never returns into the
    program that called ``app.worker_main()`` or ``app.start()`` (that program's code after the
    call belongs to the process that called it)."""
    if not _detached_copy:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    atexit._run_exitfuncs()  # the pidfile's removal, among others
    os._exit(code if isinstance(code, int) else 1)


def _detach(ctx: click.Context, pidfile: str, logfile: str) -> None:
    """Carry on in the background: this process forks a detached copy of itself, which goes on
    to run the worker (or beat) with the app as it is; this one reports and ends. Nothing is run
    again: not the program that called ``app.worker_main()`` / ``app.start()``, not its imports."""
    import threading

    from ..worker.detached import Pidfile, detach_this_process

    held = Pidfile(pidfile)
    if held.running_pid() is not None:
        raise ConfigurationError(f"Pidfile {held.path} is held by a running process (pid {held.pid()}); "
                                 "stop it first, or give another --pidfile.")
    if threading.active_count() > 1:
        log.warning("--detach: %d other thread(s) run in this process; they do not carry on in the detached "
                    "worker.", threading.active_count() - 1)
    global _detached_copy
    pid = detach_this_process(held, os.path.abspath(logfile))
    if pid is None:
        _detached_copy = True
        return  # the detached copy: on to the worker
    click.echo(f"Started in the background: pid {pid}, pidfile {held.path}, log {os.path.abspath(logfile)}")
    ctx.exit(0)
