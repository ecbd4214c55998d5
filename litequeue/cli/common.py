"""What the commands share: loading the app, the DB argument, logging, and error reporting."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from .. import log
from ..app import LiteQueue
from ..errors import LiteQueueError

LEVELS = ("debug", "info", "warning", "error", "critical")


class State:
    def __init__(self, app_path: str | None) -> None:
        self.app_path = app_path


def pass_state(ctx: click.Context, app_path: str | None) -> None:
    ctx.obj = State(app_path)


def load_app(ctx: click.Context, db: str | None, app_path: str | None) -> LiteQueue:
    """The app named by ``-A`` (given before or after the command) with ``db`` as its store."""
    app_path = app_path or (ctx.obj.app_path if ctx.obj else None)
    app = import_app(app_path) if app_path else LiteQueue()
    if db:
        app.url = db
    if app.url is None:
        raise click.UsageError("Give the database path (litequeue worker app.sqlite), or -A an app that names one.")
    return app


def load_app_readonly(ctx: click.Context, db: str | None, app_path: str | None) -> LiteQueue:
    """``load_app`` for commands that only read: the store is opened read-only, so it must exist
    already, is never created or changed, and read access to it is enough."""
    return load_app(ctx, db, app_path).reader()


def import_app(path: str) -> LiteQueue:
    """Import ``module[:attr]`` and find its LiteQueue app."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.ClickException(f"Cannot import the app module {module_name!r}: {exc}. Run from the "
                                   "directory that contains it, or fix the -A value.") from exc
    if attr:
        app = getattr(module, attr, None)
        if not isinstance(app, LiteQueue):
            raise click.ClickException(f"{module_name}:{attr} is not a LiteQueue app.")
        return app
    for name in ("app", "queue", "litequeue"):
        if isinstance(getattr(module, name, None), LiteQueue):
            return getattr(module, name)
    found = [v for v in vars(module).values() if isinstance(v, LiteQueue)]
    if len(found) == 1:
        return found[0]
    raise click.ClickException(f"Found {'no' if not found else 'several'} LiteQueue apps in {module_name}; "
                               f"name one with -A {module_name}:attribute.")


def setup_logging(level: str, logfile: str | None = None, fmt: str = "text") -> None:
    if logfile:  # made private first: a worker's log holds results and tracebacks
        with contextlib.suppress(OSError):  # (the handler then reports what is wrong with the path)
            os.close(os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    log.setup(level, logfile, fmt)


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
