"""Results, inspection and maintenance: the store operations AsyncResult, the CLI and monitoring
use (a mixin of ``Store``). Reading a job, revoking, requeueing, purging, pruning, counting, and
the registry of workers; none of them is on a worker's hot path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import states
from .mixin import StoreMixin
from .records import Job, WorkerInfo

JOB_COLUMNS = ", ".join(Job.__dataclass_fields__)  # the columns a Job is read from, in its field order


def _state_condition(states_: Sequence[str]) -> str:
    """``state = 'X'`` / ``state IN ('X', 'Y')`` with the names written out (they come from a
    fixed vocabulary), so the planner may use a partial index on the state (running jobs: the
    leases index) rather than read every row."""
    bad = [s for s in states_ if not s.isalpha() or not s.isupper()]
    if bad:
        raise ValueError(f"not job states: {bad}")
    names = sorted(set(states_))
    return f"state = '{names[0]}'" if len(names) == 1 else f"state IN ({', '.join(repr(n) for n in names)})"


class AdminStore(StoreMixin):
    """Operations on jobs from outside the worker loop (a mixin of ``Store``)."""

    if TYPE_CHECKING:
        def _workflow_jobs(self, where: str, params: Sequence[Any]) -> list[Job]: ...
        def _ended_elsewhere(self, jobs: Sequence[Job], state: str, now: float) -> None: ...
        def _deleted(self, jobs: Sequence[Job], how: str, now: float) -> None: ...
        def refuse_unbuildable_failures(self, jobs: Sequence[Job], how: str) -> None: ...

    # -- results and administration ------------------------------------------------------------

    def get(self, task_id: str) -> Job | None:
        """The job with this id, or None."""
        sql = f"SELECT {JOB_COLUMNS} FROM lq_jobs WHERE task_id = ?"
        with self.errors():
            jobs = Job.all_from_cursor(self.db.execute_sql(self.sql(sql), (task_id,)))
        return jobs[0] if jobs else None

    def list_jobs(self, states_: Sequence[str] = (), queue: str | None = None, task: str | None = None,
                  limit: int = 100, scheduled: bool = False) -> list[Job]:
        """Jobs filtered by state, queue and task name, oldest first; ``scheduled``: only jobs
        waiting for a future eta (countdown, retry delay)."""
        where, params = (["wait_until IS NOT NULL"] if scheduled else []), []
        if states_:
            where.append(_state_condition(states_))
        for column, value in (("queue", queue), ("task", task)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        held_only = bool(states_) and set(states_) <= set(states.LEASED_STATES) and not scheduled
        if held_only:  # few rows: walk their index (its predicate, stated, lets the planner use it)
            where.insert(0, "state IN ('RESERVED', 'STARTED')")
        sql = f"SELECT {JOB_COLUMNS} FROM lq_jobs{self.index_hint('lq_jobs_leases') if held_only else ''}"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY id LIMIT ?"
        with self.errors():
            return Job.all_from_cursor(self.db.execute_sql(self.sql(sql), (*params, limit)))

    def job_ids(self, states_: Sequence[str], task: str | None = None, queue: str | None = None) -> list[str]:
        """The ids of every job in these states (of one task and one queue, if given), oldest first."""
        sql = f"SELECT task_id FROM lq_jobs WHERE state IN ({', '.join('?' * len(states_))})"
        params = list(states_)
        for column, value in (("task", task), ("queue", queue)):
            if value is not None:
                sql, params = sql + f" AND {column} = ?", params + [value]
        with self.errors():
            return [row[0] for row in self.db.execute_sql(self.sql(sql + " ORDER BY id"), params).fetchall()]

    def forget(self, task_id: str) -> bool:
        """Delete a finished job's row and result. A job still waiting or running is kept. A
        chord still waiting for this member's result fails (ChordError naming it)."""
        marks = ", ".join("?" * len(states.READY_STATES))
        sql = f"DELETE FROM lq_jobs WHERE task_id = ? AND state IN ({marks}) RETURNING {JOB_COLUMNS}"
        with self.errors(), self.write():
            gone = Job.all_from_cursor(self.db.execute_sql(self.sql(sql), (task_id, *sorted(states.READY_STATES))))
            self._deleted([job for job in gone if job.options], "forget", time.time())
        return bool(gone)

    def revoke(self, task_ids: Sequence[str], terminate: bool = False) -> int:
        """Cancel jobs durably: waiting ones become REVOKED and never run (marked for a worker of
        their queue to send task_revoked: see remote_control); reserved ones (claimed
        ahead by a worker, not begun) are flagged, and their worker records them REVOKED without
        running them; running ones are flagged too: their worker kills them with ``terminate``,
        else tells them (``self.is_revoked()``). A job that replaced itself (``self.replace``) is
        flagged too: its replacement's last job, which takes its id, is stored REVOKED and never
        runs (the replacement's other jobs run, as in Celery). Workers are woken to act at once.
        Returns how many changed."""
        if not task_ids:
            return 0
        marks = ", ".join("?" * len(task_ids))
        now = time.time()
        with self.errors(), self.write():
            n = self._flag_replaced(task_ids, terminate)
            flows = self._workflow_jobs(f"task_id IN ({marks}) AND state IN ('QUEUED', 'RETRY')", task_ids)
            self.refuse_unbuildable_failures(flows, "revoke")
            n += self.db.execute_sql(self.sql(  # a transient job leaves nothing behind
                f"DELETE FROM lq_jobs WHERE task_id IN ({marks}) AND state IN ('QUEUED', 'RETRY') "
                "AND durable = ?"), (*task_ids, False)).rowcount
            n += self.db.execute_sql(self.sql(
                "UPDATE lq_jobs SET state = 'REVOKED', done_at = ?, wait_until = NULL, revoke_notice = ? "
                f"WHERE task_id IN ({marks}) AND state IN ('QUEUED', 'RETRY')"), (now, True, *task_ids)).rowcount
            self._ended_elsewhere(flows, states.REVOKED, now)  # a chord it was in fails
            n += self.db.execute_sql(self.sql(
                "UPDATE lq_jobs SET revoke_requested = ?, revoke_terminate = ? "
                f"WHERE task_id IN ({marks}) AND state IN ('RESERVED', 'STARTED')"),
                (True, terminate, *task_ids)).rowcount
        self.db.after_commit(self.notify)  # the workers holding them act now, not at their next heartbeat
        return n

    def _flag_replaced(self, task_ids: Sequence[str], terminate: bool) -> int:
        """Flag the REPLACED jobs among ``task_ids``: their replacement's last job is inserted
        REVOKED (``GroupStore._insert_follow_ups``). Nothing runs under their id meanwhile, so
        ``terminate`` has nothing to kill. Run first in ``revoke``: a last job that takes one
        of these ids meanwhile is then caught by its next statements, each reading what was
        committed before it began."""
        marks = ", ".join("?" * len(task_ids))
        sql = f"UPDATE lq_jobs SET revoke_requested = ?, revoke_terminate = ? WHERE task_id IN ({marks}) AND state = ?"
        return self.db.execute_sql(self.sql(sql), (True, terminate, *task_ids, states.REPLACED)).rowcount

    def revoke_requests(self, job_ids: Sequence[int]) -> dict[int, bool]:
        """{job id: kill it} for the jobs among ``job_ids`` whose revoke was asked for: what a
        worker reads when woken (one read by primary key)."""
        if not job_ids:
            return {}
        marks = ", ".join("?" * len(job_ids))
        sql = f"SELECT id, revoke_terminate FROM lq_jobs WHERE revoke_requested = ? AND id IN ({marks})"
        with self.errors():
            return {row[0]: bool(row[1]) for row in self.db.execute_sql(self.sql(sql), (True, *job_ids)).fetchall()}

    def set_state(self, task_id: str, state: str, meta: bytes | None, content_type: str) -> None:
        """Store a running job's custom state and metadata (``update_state``)."""
        sql = ("UPDATE lq_jobs SET custom_state = ?, meta = ?, result_type = ? "
               "WHERE task_id = ? AND state IN ('RESERVED', 'STARTED')")  # begun, perhaps not yet marked
        with self.errors(), self.write():
            self.db.execute_sql(self.sql(sql), (state, meta, content_type, task_id))

    def requeue(self, task_ids: Sequence[str]) -> int:
        """Put finished jobs (typically FAILURE) back in their queue with attempts reset and
        their history kept."""
        if not task_ids:
            return 0
        marks = ", ".join("?" * len(task_ids))
        ready = sorted(states.READY_STATES)
        sql = (
            "UPDATE lq_jobs SET state = 'QUEUED', attempts = 0, wait_until = NULL, done_at = NULL, "
            "result = NULL, custom_state = NULL, meta = NULL, revoke_requested = ?, revoke_terminate = ?, due_at = ? "
            f"WHERE task_id IN ({marks}) AND state IN ({', '.join('?' * len(ready))})"
        )
        with self.errors(), self.write():
            n = self.db.execute_sql(self.sql(sql), (False, False, time.time(), *task_ids, *ready)).rowcount
        self.db.after_commit(self.notify)
        return n

    def purge(self, queue: str | None = None, batch: int | None = None) -> int:
        """Delete every waiting job (of one queue, or all), or up to ``batch`` of them per call
        to keep each transaction short. Running and finished jobs stay. A chord waiting for a
        member deleted here fails (ChordError naming it), in the same transaction."""
        where = "state IN ('QUEUED', 'RETRY')"
        params: tuple = ()
        if queue is not None:
            where, params = where + " AND queue = ?", (queue,)
        # Workflow jobs first, read back as they are deleted (RETURNING: exactly those deleted).
        flows_sql = f"DELETE FROM lq_jobs WHERE {where} AND options IS NOT NULL RETURNING {JOB_COLUMNS}"
        sql = f"DELETE FROM lq_jobs WHERE {where}"
        if batch is not None:
            flows_sql = (f"DELETE FROM lq_jobs WHERE id IN (SELECT id FROM lq_jobs WHERE {where} "
                         f"AND options IS NOT NULL LIMIT ?) RETURNING {JOB_COLUMNS}")
            sql = f"DELETE FROM lq_jobs WHERE id IN (SELECT id FROM lq_jobs WHERE {where} LIMIT ?)"
        with self.errors(), self.write():
            flows = Job.all_from_cursor(self.db.execute_sql(
                self.sql(flows_sql), params if batch is None else (*params, batch)))
            n = len(flows)
            if batch is None or n < batch:
                rest = params if batch is None else (*params, batch - n)
                n += self.db.execute_sql(self.sql(sql), rest).rowcount
            self._deleted(flows, "purge", time.time())
        return n

    def prune(self, before: float, states_: Sequence[str] = tuple(states.READY_STATES), batch: int = 500) -> int:
        """Delete up to ``batch`` finished jobs done before ``before``; short transactions. The
        members of a chord still waiting for others are kept until its join (it reads them)."""
        marks = ", ".join("?" * len(states_))
        sql = (
            "DELETE FROM lq_jobs WHERE id IN (SELECT id FROM lq_jobs WHERE done_at IS NOT NULL "
            f"AND done_at < ? AND state IN ({marks}) AND (group_id IS NULL OR group_id NOT IN "
            "(SELECT id FROM lq_groups WHERE state = 'OPEN' AND callback IS NOT NULL)) LIMIT ?)"
        )
        with self.errors(), self.write():
            return self.db.execute_sql(self.sql(sql), (before, *states_, batch)).rowcount

    def counts(self) -> dict[tuple[str, str], int]:
        """{(queue, state): number of jobs}; waiting jobs with a future eta count as 'SCHEDULED'."""
        sql = (
            "SELECT queue, CASE WHEN wait_until IS NOT NULL THEN 'SCHEDULED' ELSE state END, COUNT(*) "
            "FROM lq_jobs GROUP BY 1, 2"
        )
        with self.errors():
            return {(q, s): n for q, s, n in self.db.execute_sql(sql).fetchall()}

    def count_jobs(self, states_: Sequence[str] = (), queue: str | None = None,
                   done_before: float | None = None, scheduled: bool = False) -> int:
        """How many jobs are in ``states_`` (any, when empty), of ``queue``, finished before
        ``done_before``; ``scheduled``: only those waiting for a future eta (an index read)."""
        where: list[str] = ["wait_until IS NOT NULL"] if scheduled else ["1 = 1"]
        params: list[object] = []
        if states_:
            where.append(f"state IN ({', '.join('?' * len(states_))})")
            params += list(states_)
        if queue is not None:
            where.append("queue = ?")
            params.append(queue)
        if done_before is not None:
            where.append("done_at IS NOT NULL AND done_at < ?")
            params.append(done_before)
        with self.errors():
            return self.db.execute_sql(self.sql("SELECT COUNT(*) FROM lq_jobs WHERE " + " AND ".join(where)),
                                       params).fetchone()[0]

    def count_finished_by(self, worker: str, since: float) -> int:
        """How many jobs the worker named ``worker`` (any of its runs) finished at or after
        ``since`` (walks the done_at index from there)."""
        prefix = worker + "/"
        sql = "SELECT COUNT(*) FROM lq_jobs WHERE done_at >= ? AND substr(worker, 1, ?) = ?"
        with self.errors():
            return self.db.execute_sql(self.sql(sql), (since, len(prefix), prefix)).fetchone()[0]

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the filesystem (VACUUM). Takes the write lock
        for its whole run. The SQLite dialect also truncates the -wal file."""
        with self.errors():
            self.db.execute_sql("VACUUM")

    # -- the worker registry -------------------------------------------------------------------

    def register_worker(self, info: WorkerInfo) -> None:
        """Record a worker as running (replacing an earlier record of the same name)."""
        workers = self.models.Workers
        others = [f for f in workers._meta.sorted_fields if f is not workers.name]
        with self.errors(), self.write():
            workers.insert(**info.__dict__).on_conflict(conflict_target=[workers.name], preserve=others).execute()

    def heartbeat(self, name: str, processed: int, stopped: bool = False) -> None:
        now = time.time()
        values: dict = {"heartbeat_at": now, "processed": processed}
        if stopped:
            values["stopped_at"] = now
        with self.errors(), self.write():
            workers = self.models.Workers
            workers.update(**values).where(workers.name == name).execute()

    def workers(self) -> list[WorkerInfo]:
        with self.errors():
            workers = self.models.Workers
            return [WorkerInfo(**row) for row in workers.select().order_by(workers.name).dicts()]
