"""Django: send jobs when the transaction commits, or inside it, and a ``django.tasks`` backend.

- ``task.delay_on_commit(...)`` / ``task.apply_async_on_commit(args, kwargs, **options)``
  (Celery 5.4's names) send the job once the current ``transaction.atomic()`` block commits, and
  never if it rolls back (outside a transaction, at once).
- ``with enqueue_in(): task.delay(...)`` writes the job through Django's own connection, inside the
  current transaction, so it commits or rolls back with the application's models; workers are
  woken after the commit. The store must be in the same database (PostgreSQL; or the same SQLite
  file, opened with ``share_database=True``).
- ``litequeue.contrib.django.backend.LiteQueueBackend``: Django's own task API (``@task``,
  ``.enqueue()``, ``TaskResult``) on litequeue; its workers run ``-A litequeue.contrib.django.worker``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from litequeue.errors import ConfigurationError, DuplicateJob, StoreError

try:
    from django.db import DEFAULT_DB_ALIAS, connections, transaction
except ImportError as exc:  # pragma: no cover - the optional dependency
    raise ConfigurationError("litequeue.contrib.django needs Django: pip install 'litequeue-jobs[django]'.") from exc
from litequeue.store.external import sending_through

__all__ = ["enqueue_in", "on_commit", "DjangoConnection"]


def on_commit(fn: Callable[[], object], using: str | None = None) -> None:
    """Call ``fn`` once the current transaction of the ``using`` database commits."""
    transaction.on_commit(fn, using=using)


@contextlib.contextmanager
def enqueue_in(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside the block, jobs sent from this thread are written through Django's connection
    ``using``, inside its current transaction (``transaction.atomic()``)."""
    with sending_through(DjangoConnection(using)):
        yield


class DjangoConnection:
    """One of Django's database connections, as litequeue's store sees it."""

    paramstyle = "format"  # Django's cursors take %s on every backend

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self.connection = connections[using]
        self.dialect = self.connection.vendor  # "postgresql", "sqlite", ...
        self.description = f"Django's database {using!r} ({self.connection.vendor})"
        self.checked: set[int] = set()

    def execute(self, sql: str, rows: Sequence[tuple]) -> list[tuple]:
        from django.db import DatabaseError, IntegrityError

        try:
            with self.connection.cursor() as cursor:
                if len(rows) == 1:
                    cursor.execute(sql, rows[0])
                else:
                    cursor.executemany(sql, list(rows))
                return [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        except IntegrityError as exc:
            if "task_id" in str(exc):
                raise DuplicateJob(f"{self.description}: a job with this task_id already exists. Give each "
                                   "job its own task_id, or leave task_id out to get a fresh one.") from exc
            raise StoreError(f"{self.description}: {str(exc).strip().splitlines()[0]}") from exc
        except DatabaseError as exc:
            raise StoreError(f"{self.description}: {str(exc).strip().splitlines()[0]}") from exc

    def after_commit(self, fn: Callable[[], None]) -> None:
        transaction.on_commit(fn, using=self.using)

    def sqlite_path(self) -> str | None:
        name = self.connection.settings_dict.get("NAME")
        return str(name) if name and str(name) != ":memory:" else None
