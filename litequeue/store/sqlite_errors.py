"""Translating the SQLite driver's errors into litequeue's StoreError tree, with the path and the fix."""

from __future__ import annotations

import sqlite3

import peewee as pw

from ..errors import DuplicateJob, StoreCorrupt, StoreError, StoreFull, StoreLocked, StoreNotFound


def translate(exc: BaseException, path: str, busy_timeout: float) -> StoreError:
    """The StoreError for a driver error, with a message naming the path and the fix."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return StoreLocked(
            f"{path}: the database stayed locked by another writer for longer than "
            f"sqlite_busy_timeout ({busy_timeout:g} s). Raise sqlite_busy_timeout, or find the "
            "process holding a long write transaction."
        )
    if "full" in low:
        return StoreFull(f"{path}: {text}. Free disk space (or raise the size limit) and try again.")
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return StoreCorrupt(f"{path}: {text}. Restore it from a backup, or use a new file.")
    if "unable to open" in low or "readonly" in low or "read-only" in low:
        return StoreNotFound(f"{path}: {text}. Check that the file and its directory are writable.")
    if "disk i/o error" in low:
        return StoreError(f"{path}: {text}. Check free disk space, file size limits (ulimit -f) and the disk itself.")
    if "unique constraint failed: lq_jobs.task_id" in low:
        return DuplicateJob(f"{path}: a job with this task_id already exists. Give each job its own task_id, "
                          "or leave task_id out to get a fresh one.")
    return StoreError(f"{path}: {text}")


def original(exc: BaseException) -> BaseException:
    """The error that aborted a transaction, not the failed ROLLBACK after it: SQLite rolls back
    by itself after an I/O error or a full disk, and the transaction's own ROLLBACK (or a nested
    one's ROLLBACK TO SAVEPOINT) then fails."""
    found = exc
    while (any(text in str(found) for text in ("no transaction is active", "no such savepoint"))
           and isinstance(found.__context__, (pw.DatabaseError, sqlite3.Error))):
        found = found.__context__
    return found
