"""Unique jobs: a job whose unique key is held by a counting job is not stored (a mixin of ``Store``).

The key is checked inside the enqueue transaction, by ``ON CONFLICT DO NOTHING`` against a unique
partial index on ``unique_key``: racing producers store one job. A key stops counting once its
window has passed or its job failed or was revoked (it is cleared before the insert).
"""

from __future__ import annotations

from collections.abc import Sequence

from .job_rows import INSERT_JOB, job_row
from .mixin import StoreMixin
from .records import NewJob

_CLEAR_UNIQUE = (  # a key stops counting once its window has passed or its job failed or was revoked
    "UPDATE lq_jobs SET unique_key = NULL WHERE unique_key = ? "
    "AND (unique_until <= ? OR state IN ('FAILURE', 'REVOKED'))"
)
_UNIQUE_CONFLICT = " ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING"


class UniqueKeysStore(StoreMixin):
    """enqueue_flow, insert_jobs (the enqueue of jobs with flow keys)."""

    def enqueue_flow(self, jobs: Sequence[NewJob], now: float) -> dict[str, str]:
        """``enqueue`` for a batch holding jobs with flow keys, in one durable write transaction.

        A unique job whose key is held by a counting job (waiting, scheduled, running or
        succeeded, within its window) is not inserted: the result maps its task_id to that job's.
        Racing producers insert one job: the unique index decides, inside the transaction."""
        with self.errors():
            with self.write() as txn:
                duplicates = self.insert_jobs(jobs, now)
            committed = self._committed(txn)
        if len(duplicates) < len(jobs):
            self._notify_after(committed)
        return duplicates

    def insert_jobs(self, jobs: Sequence[NewJob], now: float) -> dict[str, str]:
        """Insert ``jobs`` in order inside the caller's write transaction; the duplicates, as
        ``enqueue_flow`` returns them."""
        self._declare_concurrency(jobs, now)
        insert = self.sql(INSERT_JOB)
        duplicates: dict[str, str] = {}
        plain: list[tuple] = []
        for job in jobs:
            row = job_row(job, now)
            key = job.flow.unique_key if job.flow is not None else None
            if key is None:
                plain.append(row)
                continue
            if plain:
                self.db.cursor().executemany(insert, plain)
                plain = []
            existing = self._insert_unique(row, key, now)
            if existing is not None:
                duplicates[job.task_id] = existing
        if plain:
            self.db.cursor().executemany(insert, plain)
        return duplicates

    def _insert_unique(self, row: tuple, key: str, now: float) -> str | None:
        """Insert a unique job's row; None, or the task_id of the job that holds its key."""
        self.db.execute_sql(self.sql(_CLEAR_UNIQUE), (key, now))
        if self.db.execute_sql(self.sql(INSERT_JOB + _UNIQUE_CONFLICT), row).rowcount == 1:
            return None
        found = self.db.execute_sql(self.sql("SELECT task_id FROM lq_jobs WHERE unique_key = ?"), (key,)).fetchone()
        return found[0] if found else None
