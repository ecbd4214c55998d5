"""``litequeue migrate-store SRC DST``: move up from SQLite to PostgreSQL (or back) without losing work."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from ..config import Settings
from ..store import describe_url, open_store
from ..store.transfer import copy_store
from .common import friendly_errors, refuse_missing


@click.command("migrate-store")
@click.argument("src")
@click.argument("dst")
@friendly_errors
def migrate_store(src: str, dst: str) -> None:
    """Copy every job (waiting, scheduled, failed, finished with its result), schedule entry and
    fire from the store SRC into DST, e.g. from app.sqlite to postgresql://user@host/app.

    Stop SRC's workers first. SRC is left unchanged; point workers and producers at DST after.
    """
    refuse_missing(src)  # a mistyped source would otherwise be created empty and "copied"
    settings = Settings()
    source = open_store(src, settings)
    target = open_store(dst, settings)
    try:
        with _progress(source.count_jobs()) as bar:
            copied = copy_store(source, target, lambda table, n: bar.update(n) if table == "lq_jobs" else None)
    finally:
        source.close()
        target.close()
    summary = ", ".join(f"{n} {table.removeprefix('lq_')}" for table, n in copied.items())
    click.echo(f"Copied {summary} from {describe_url(src)} to {describe_url(dst)}.")
    click.echo(f"{describe_url(src)} is unchanged: point your workers and producers at {describe_url(dst)}.")


class _Quiet:
    def update(self, n: int) -> None:
        pass


def _progress(jobs: int) -> Any:
    """A bar of jobs copied on a terminal (stderr); nothing when piped."""
    if sys.stderr.isatty() and jobs > PROGRESS_FROM:
        return click.progressbar(length=jobs, label="Copying jobs", file=sys.stderr, show_pos=True, show_eta=True)
    return contextlib.nullcontext(_Quiet())


PROGRESS_FROM = 1000  # jobs: a smaller copy is over before a bar would help


COMMANDS = [migrate_store]
