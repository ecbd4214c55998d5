"""``litequeue migrate-store SRC DST``: move up from SQLite to PostgreSQL (or back) without losing work."""

from __future__ import annotations

import click

from ..config import Settings
from ..store import describe_url, open_store
from ..store.transfer import copy_store
from .common import friendly_errors


@click.command("migrate-store")
@click.argument("src")
@click.argument("dst")
@friendly_errors
def migrate_store(src: str, dst: str) -> None:
    """Copy every job (waiting, scheduled, failed, finished with its result), schedule entry and
    fire from the store SRC into DST, e.g. from app.sqlite to postgresql://user@host/app.

    Stop SRC's workers first. SRC is left unchanged; point workers and producers at DST after.
    """
    settings = Settings()
    source = open_store(src, settings)
    target = open_store(dst, settings)
    try:
        copied = copy_store(source, target)
    finally:
        source.close()
        target.close()
    summary = ", ".join(f"{n} {table.removeprefix('lq_')}" for table, n in copied.items())
    click.echo(f"Copied {summary} from {describe_url(src)} to {describe_url(dst)}.")
    click.echo(f"{describe_url(src)} is unchanged: point your workers and producers at {describe_url(dst)}.")


COMMANDS = [migrate_store]
