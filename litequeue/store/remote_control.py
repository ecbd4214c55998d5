"""What ``app.control`` leaves in the store for running workers, and what they leave there for
``inspect``: no broker broadcast, every order and answer is a row.

- A worker's queues are its row's ``queues`` text (see ``litequeue.consumers``);
  ``add_consumer`` / ``cancel_consumer`` rewrite it, and the worker follows it.
- A worker's settings (``inspect conf``) are its row's ``conf``, written when it starts.
- A job revoked while it waited in the store is marked ``revoke_notice``; a worker consuming its
  queue takes the mark (once: an atomic update) and sends Celery's ``task_revoked`` for it. The
  marks sit in a partial index, so looking for them costs nothing while there are none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .admin import JOB_COLUMNS
from .mixin import StoreMixin
from .records import Job


class RemoteControlStore(StoreMixin):
    """worker_queues, change_worker_queues, worker_confs, take_revoke_notices."""

    def worker_queues(self, name: str) -> str | None:
        """The queues text of the worker ``name`` (None: no such worker). One primary-key read."""
        with self.errors():
            row = self.db.execute_sql(self.sql("SELECT queues FROM lq_workers WHERE name = ?"), (name,)).fetchone()
        return row[0] if row else None

    def change_worker_queues(self, name: str, change: Callable[[str], tuple[str | None, str]]
                             ) -> tuple[str | None, str] | None:
        """Rewrite the queues of the worker ``name`` with ``change(text) -> (new text, or None
        to leave them, and a reply)``, read and written in one transaction (two changes at once
        never lose one). Returns what ``change`` returned, or None when there is no such worker."""
        with self.errors(), self.write():
            row = self.db.execute_sql(self.sql("SELECT queues FROM lq_workers WHERE name = ?"), (name,)).fetchone()
            if row is None:
                return None
            text, reply = change(row[0])
            if text is not None and text != row[0]:
                self.db.execute_sql(self.sql("UPDATE lq_workers SET queues = ? WHERE name = ?"), (text, name))
        return text, reply

    def worker_confs(self, names: Sequence[str]) -> dict[str, str | None]:
        """{worker name: the settings it stored at start (JSON text), or None for a worker that
        stored none (started by an older litequeue)}."""
        if not names:
            return {}
        marks = ", ".join("?" * len(names))
        with self.errors():
            rows = self.db.execute_sql(self.sql(f"SELECT name, conf FROM lq_workers WHERE name IN ({marks})"),
                                       tuple(names)).fetchall()
        return {name: conf for name, conf in rows}

    def take_revoke_notices(self, queues: Sequence[str] | None, exclude: Sequence[str], limit: int) -> list[Job]:
        """Up to ``limit`` jobs revoked while they waited, of ``queues`` (None: every queue but
        ``exclude``), their marks cleared by the same statement: each is taken once, by one
        worker. Oldest first."""
        where, params = "revoke_notice", []
        if queues is not None:
            if not queues:
                return []
            where += f" AND queue IN ({', '.join('?' * len(queues))})"
            params += list(queues)
        elif exclude:
            where += f" AND queue NOT IN ({', '.join('?' * len(exclude))})"
            params += list(exclude)
        pick = f"SELECT id FROM lq_jobs{self.index_hint('lq_jobs_revoke_notices')} WHERE {where} ORDER BY id LIMIT ?"
        sql = f"UPDATE lq_jobs SET revoke_notice = ? WHERE id IN ({pick}) AND revoke_notice RETURNING {JOB_COLUMNS}"
        with self.errors(), self.write():
            jobs = Job.all_from_cursor(self.db.execute_sql(self.sql(sql), (False, *params, limit)))
        return sorted(jobs, key=lambda job: job.id)
