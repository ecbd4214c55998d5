"""What the commands share: loading the app, the DB argument, logging, and error reporting."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

import click

from .. import log
from ..app import LiteQueue
from ..discovery import find_app
from ..errors import LiteQueueError
from ..store import is_postgres_url
from ..store.sqlite import path_from_url

LEVELS = ("debug", "info", "warning", "error", "critical")


class State:
    """What the top-level group passes down: ``-A`` given before the command, or the app itself
    when the command line runs from ``app.start()`` / ``app.worker_main()``."""

    def __init__(self, app_path: str | None, app: LiteQueue | None = None) -> None:
        self.app_path = app_path
        self.app = app


def pass_state(ctx: click.Context, app_path: str | None) -> None:
    preset = ctx.obj.app if isinstance(ctx.obj, State) else None
    ctx.obj = State(app_path, preset)


def load_app(ctx: click.Context, db: str | None, app_path: str | None) -> LiteQueue:
    """The app named by ``-A`` (given before or after the command) with ``db`` as its store;
    without a DB, the app's own (its broker URL, or $CELERY_BROKER_URL). Finalized: its
    configuration hooks have run and its ``include`` modules are imported."""
    app_path = app_path or (ctx.obj.app_path if ctx.obj else None)
    preset = ctx.obj.app if ctx.obj else None
    app = import_app(app_path) if app_path else preset or LiteQueue()
    ctx.meta[APP_URL] = app.url  # the store the app itself names (before DB replaces it)
    if db:
        app.url = db
    if app.url is None:
        raise click.UsageError("Give the database path (litequeue worker app.sqlite), -A an app that names one, "
                               "or set CELERY_BROKER_URL.")
    app.finalize()
    if not db and ctx.meta[APP_URL] is None:  # named by configuration read at finalize (Django's settings)
        ctx.meta[APP_URL] = app.url
    return app


def open_existing(ctx: click.Context, db: str | None, app_path: str | None) -> LiteQueue:
    """The app on ``db``, refusing a database file that does not exist (a typo would otherwise
    create an empty one and report that it holds nothing)."""
    app = load_app(ctx, db, app_path)
    refuse_missing(app.url or "")
    return app


def refuse_missing(url: str) -> None:
    """Refuse an SQLite store ``url`` whose file does not exist (a server URL always passes)."""
    path = path_from_url(url) if not is_postgres_url(url) else None
    if path is not None and not os.path.exists(path):
        raise click.ClickException(f"No database at {path}; check the path (a worker or the first "
                                   "job sent creates it).")


APP_URL = "litequeue.app_url"  # ctx.meta key: the store the app names, whatever DB says


def store_to_create(url: str | None, app_url: str | None, create: bool, who: str = "a worker") -> str | None:
    """The path of the SQLite store this worker will create, or None when it exists (or is on a
    server). A missing store is created when asked (--create), or when it is the very store the
    app names (the one its producers send to); a path given on the command line that holds no
    store is refused, naming both fixes: it is most often a typo, which would otherwise leave the
    worker waiting forever on a new, empty file."""
    missing = log.missing_store(url)
    directory = os.path.dirname(missing) if missing else ""
    if missing is None or create or not os.access(directory, os.W_OK | os.X_OK):
        return missing  # (a missing or unwritable directory: opening the store says so, and why)
    if app_url and log.missing_store(app_url) == missing:
        return missing
    raise click.ClickException(
        f"No store at {missing}: the file does not exist, and {who} does not create one on a path it was "
        "given unless told to. Check the path (producers and workers must name the same file; a relative "
        "path is taken from the directory you start in), or add --create to start a new, empty store there.")


def load_app_readonly(ctx: click.Context, db: str | None, app_path: str | None) -> LiteQueue:
    """``load_app`` for commands that only read: the store is opened read-only, so it must exist
    already, is never created or changed, and read access to it is enough."""
    return load_app(ctx, db, app_path).reader()


def import_app(path: str) -> LiteQueue:
    """The app ``-A path`` names, found as Celery finds it (see litequeue.discovery)."""
    try:
        return find_app(path)
    except LiteQueueError as exc:
        raise click.ClickException(exc.message) from None


def app_given(ctx: click.Context, args: list[str]) -> bool:
    """Whether the database can come from somewhere other than a DB argument: -A (before or
    after the command), an app started from code, or $CELERY_BROKER_URL."""
    state = ctx.find_object(State)
    return bool(os.environ.get("CELERY_BROKER_URL") or (state and (state.app_path or state.app))
                or any(a in ("-A", "--app") or a.startswith(("-A", "--app=")) for a in args))


def looks_like_database(value: str) -> bool:
    return "://" in value or value.endswith((".sqlite", ".sqlite3", ".db")) or os.path.exists(value)


class DbFirst:
    """A command whose first argument is DB, which may be left out when the app is given
    (``litequeue -A proj status``, ``litequeue -A proj result ID``): when the first argument does
    not look like a database, the database comes from the app."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = _first_positional(self, args)  # type: ignore[arg-type]
        if app_given(ctx, args) and "--help" not in args and (first is None or not looks_like_database(first)):
            args = [FROM_APP, *args]
        return super().parse_args(ctx, args)  # type: ignore[misc]


FROM_APP = ""  # the DB argument's value when the app names the database


class DbFirstCommand(DbFirst, click.Command):
    pass


class DbFirstGroup(DbFirst, click.Group):
    pass


def _first_positional(command: click.Command, args: list[str]) -> str | None:
    takes_value = {name for p in command.params if isinstance(p, click.Option) and not p.is_flag
                   and not p.count for name in p.opts}
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            return next(tokens, None)
        if token in takes_value:
            next(tokens, None)
        elif not token.startswith("-") or token == "-":
            return token
    return None


def setup_logging(level: str, logfile: str | None = None, fmt: str = "text") -> None:
    """Log to stderr or ``logfile`` at ``level``; as in Celery, a setup_logging receiver takes
    this over entirely, and after_setup_logger receivers may adjust what was set up."""
    from .. import signals

    if signals.setup_logging.send(sender=None, loglevel=level.upper(), logfile=logfile, format=log.PLAIN_FORMAT,
                                  colorize=False):
        return
    if logfile:  # made private first: a worker's log holds results and tracebacks
        with contextlib.suppress(OSError):  # (the handler then reports what is wrong with the path)
            os.close(os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    log.setup(level, logfile, fmt)
    signals.after_setup_logger.send(sender=None, logger=logging.getLogger(), loglevel=level.upper(),
                                    logfile=logfile, format=log.PLAIN_FORMAT, colorize=False)


def log_format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--log-format", "log_format", type=click.Choice(log.FORMATS), default="text",
                        show_default=True, help="json: one JSON object per log line (for log shippers).")(fn)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn litequeue errors into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LiteQueueError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


def db_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("db", required=False, metavar="[DB]")(fn)


def app_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-A", "--app", "app_path", metavar="MODULE[:ATTR]",
                        help="The module defining your app and tasks.")(fn)


def split_list(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())
