"""Copying a whole store to another (SQLite to PostgreSQL and back): ``litequeue migrate-store``.

Everything a user would miss is copied -- jobs in every state (waiting, scheduled, failed,
finished with their results), schedule entries and their fires -- in one transaction on the
destination, so a failed copy leaves nothing behind. Worker records are not copied: they belong
to the processes running on the old store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw

from .. import states
from ..errors import StoreError
from . import describe_url
from .base import Store

_NOT_COPIED = ("Workers", "Meta")  # runtime records and the schema version (the destination's own)
_BATCH = 500


def copy_store(src: Store, dst: Store, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every job, schedule and fire from ``src`` into ``dst``; returns {table: rows copied}.
    ``progress(table, rows)`` is called after each batch written (for a progress bar).

    Refuses while ``src`` has running jobs (their workers would finish them in the old store), and
    when ``dst`` already holds any of the rows (nothing is written then). ``src`` is left as it was.
    """
    if src.url == dst.url:
        raise StoreError(f"{describe_url(src.url)}: the source and the destination are the same store; "
                         "name two different ones.")
    running = src.count_jobs(states.LEASED_STATES)
    if running:
        raise StoreError(
            f"{describe_url(src.url)} has {running} running job(s). Stop its workers first (they finish or hand back "
            "their jobs), then run migrate-store again."
        )
    copied: dict[str, int] = {}
    try:
        with dst.errors(), dst.write():
            for name, model in _models(src):
                table = model._meta.table_name
                copied[table] = _copy_table(model, getattr(dst.models, name), table, progress)
    except StoreError as exc:
        if isinstance(exc.__cause__, pw.IntegrityError):
            raise StoreError(
                f"{describe_url(dst.url)} already holds some of the jobs or schedules being copied ({exc.message}). "
                "Nothing was copied; migrate into a new, empty store."
            ) from exc
        raise
    dst.db.after_commit(dst.notify)  # workers already on the destination can start at once
    return copied


def _models(store: Store) -> list[tuple[str, Any]]:
    """(attribute name, model) of every table to copy, in a stable order."""
    return [(name, value) for name, value in sorted(vars(store.models).items())
            if isinstance(value, type) and issubclass(value, pw.Model) and name not in _NOT_COPIED]


def _copy_table(src_model: Any, dst_model: Any, table: str, progress: Callable[[str, int], None] | None) -> int:
    """Copy the rows in primary-key order; an auto-numbered id is left for the destination to assign."""
    pk = src_model._meta.primary_key
    columns = [f.name for f in src_model._meta.sorted_fields if not isinstance(f, pw.AutoField)]
    total = 0
    last = None
    while True:
        query = src_model.select().order_by(pk).limit(_BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows = list(query.dicts())
        if not rows:
            return total
        last = rows[-1][pk.name]
        dst_model.insert_many([{c: _plain(row[c]) for c in columns} for row in rows]).execute()
        total += len(rows)
        if progress is not None:
            progress(table, len(rows))


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value
