"""Reads for watching a store (``status``, the dashboard, the HTTP API, /metrics) and paused
queues (a mixin of ``Store``). Every read here walks an index, so it stays fast on a store of
millions of jobs: pages of jobs by keyset (``id < cursor``), per-queue counts from the partial
indexes, and finished jobs from the ``done_at`` indexes.
"""

from __future__ import annotations

import time
from typing import Any

from .. import states
from .admin import JOB_COLUMNS
from .mixin import StoreMixin
from .models import CLAIMABLE
from .records import Job, QueueStats

# States with a partial index of their own (rarely entered, so the index costs the hot path
# nothing): a page of them walks it however rare they are among the other jobs.
INDEXED_STATES = {"FAILURE": "lq_jobs_failed", "REVOKED": "lq_jobs_revoked", "RETRY": "lq_jobs_retrying"}
SCAN_WINDOW = 100_000  # ids one page request looks through when its filters have no index
TEXT_WINDOW = 50_000  # the same for a search in the arguments (each row's body is read)


_STAT_KEYS = ("due", "QUEUED", "RETRY", "RESERVED", "STARTED", "all_RETRY", "all_FAILURE", "all_REVOKED", "done")
# Every queue that has finished jobs, found by hopping from one queue name to the next along the
# (queue, done_at) index (a loose index scan), with its count of jobs finished since a time.
_DONE_PER_QUEUE = """
WITH RECURSIVE queues(name) AS (
    SELECT MIN(queue) FROM lq_jobs{hint} WHERE done_at IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(queue) FROM lq_jobs{hint} WHERE done_at IS NOT NULL AND queue > queues.name)
    FROM queues WHERE queues.name IS NOT NULL
)
SELECT name, 'done', (SELECT COUNT(*) FROM lq_jobs{hint} WHERE done_at IS NOT NULL AND queue = queues.name
                      AND done_at >= ?)
FROM queues WHERE name IS NOT NULL"""


class MonitorStore(StoreMixin):
    """page_jobs, queue_stats, queue_depths, finished_since, done_per_bucket, pause/resume queues."""

    def page_jobs(self, state: str | None, task: str | None, queue: str | None, sent_after: float | None,
                  sent_before: float | None, text: str | None, before: int | None,
                  limit: int) -> tuple[list[Job], int | None]:
        """Up to ``limit`` jobs matching the filters with ``id < before``, newest first, and the
        cursor to continue from (None: nothing older). A state with its own index is walked
        through it; other filters look through at most SCAN_WINDOW ids per call, so a call is
        bounded however rare the match (the cursor then continues below the window)."""
        if state is not None and state not in states.STORED_STATES:
            raise ValueError(f"unknown state {state!r}")
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append(f"state = '{state}'")  # a literal, so the planner may use the partial index
        given: tuple[tuple[str, Any], ...] = (("task = ?", task), ("queue = ?", queue),
                                              ("created_at >= ?", sent_after), ("created_at < ?", sent_before))
        for condition, value in given:
            if value is not None:
                where.append(condition)
                params.append(value)
        if text:
            where.append(self.body_contains())
            params.append(text.encode())
        top = before if before is not None else self._max_id() + 1
        windowed = bool(params) or (state is not None and state not in INDEXED_STATES)
        floor = max(top - (TEXT_WINDOW if text else SCAN_WINDOW), 0) if windowed else 0
        sql = (f"SELECT {JOB_COLUMNS} FROM lq_jobs WHERE id < ? AND id >= ?"
               + "".join(f" AND {w}" for w in where) + " ORDER BY id DESC LIMIT ?")
        with self.errors():
            jobs = Job.all_from_cursor(self.db.execute_sql(self.sql(sql), (top, floor, *params, limit)))
        if len(jobs) == limit:
            return jobs, jobs[-1].id
        return jobs, (floor if floor > 0 else None)

    def body_contains(self) -> str:
        """A condition true when the job's encoded arguments hold the bytes of one parameter."""
        return "instr(body, ?) > 0"

    def _max_id(self) -> int:
        with self.errors():
            row = self.db.execute_sql("SELECT MAX(id) FROM lq_jobs").fetchone()
        return row[0] or 0

    def queue_depths(self) -> dict[str, dict[str, Any]]:
        """{queue: {due, scheduled, running, retrying, failed, oldest_due_at}}, each read from its
        partial index (never a scan of finished jobs)."""
        out: dict[str, dict[str, Any]] = {}

        def put(sql: str, *names: str) -> None:
            for queue, *values in self.db.execute_sql(self.sql(sql)).fetchall():
                row = out.setdefault(queue, {"due": 0, "scheduled": 0, "reserved": 0, "running": 0, "retrying": 0,
                                             "failed": 0, "oldest_due_at": None})
                row.update(zip(names, values, strict=True))

        hint = self.index_hint("lq_jobs_claim_queue")
        with self.errors():
            put(f"SELECT queue, COUNT(*), MIN(due_at) FROM lq_jobs{hint} WHERE {CLAIMABLE} GROUP BY queue",
                "due", "oldest_due_at")
            put("SELECT queue, COUNT(*) FROM lq_jobs WHERE wait_until IS NOT NULL GROUP BY queue", "scheduled")
            put("SELECT queue, COUNT(*) FROM lq_jobs WHERE state = 'RESERVED' GROUP BY queue", "reserved")
            put("SELECT queue, COUNT(*) FROM lq_jobs WHERE state = 'STARTED' GROUP BY queue", "running")
            put("SELECT queue, COUNT(*) FROM lq_jobs WHERE state = 'RETRY' GROUP BY queue", "retrying")
            put("SELECT queue, COUNT(*) FROM lq_jobs WHERE state = 'FAILURE' GROUP BY queue", "failed")
        return out

    def queue_stats(self, since: float) -> list[QueueStats]:
        """Per queue: jobs due (queued), scheduled (future eta), reserved, running, retrying,
        failed, revoked, finished since ``since``, and when the oldest due job became due.

        Each count is read from the partial index of its state alone (the claim index, the
        leases, the waiting jobs by queue and state, the rare states, finished jobs by queue and
        time), so it costs the jobs in that state (finished ones: those since ``since``), never
        a scan of the table. Queues are found by walking the finished jobs' index from one queue
        name to the next."""
        rows: dict[str, dict[str, Any]] = {}

        def add(sql: str, params: tuple = ()) -> None:
            for queue, key, n, *oldest in self.db.execute_sql(self.sql(sql), params).fetchall():
                row = rows.setdefault(queue, dict.fromkeys(_STAT_KEYS, 0) | {"oldest_due_at": None})
                row[key] += n
                if oldest:
                    row["oldest_due_at"] = oldest[0]

        with self.errors():
            add(f"SELECT queue, 'due', COUNT(*), MIN(due_at) FROM lq_jobs{self.index_hint('lq_jobs_claim_queue')} "
                f"WHERE {CLAIMABLE} GROUP BY queue")
            add(f"SELECT queue, state, COUNT(*) FROM lq_jobs{self.index_hint('lq_jobs_waiting_queue')} "
                "WHERE wait_until IS NOT NULL GROUP BY queue, state")  # QUEUED: scheduled; RETRY: its delay
            add("SELECT queue, state, COUNT(*) FROM lq_jobs WHERE state IN ('RESERVED', 'STARTED') "
                "GROUP BY queue, state")
            for state in ("RETRY", "FAILURE", "REVOKED"):
                add(f"SELECT queue, 'all_{state}', COUNT(*) FROM lq_jobs WHERE state = '{state}' GROUP BY queue")
            add(_DONE_PER_QUEUE.replace("{hint}", self.index_hint("lq_jobs_done_queue")), (since,))
        return [QueueStats(queue=q, queued=r["due"] - (r["all_RETRY"] - r["RETRY"]), scheduled=r["QUEUED"],
                           running=r["STARTED"], retrying=r["all_RETRY"], failed=r["all_FAILURE"],
                           revoked=r["all_REVOKED"], done_recently=r["done"], oldest_due_at=r["oldest_due_at"],
                           reserved=r["RESERVED"]) for q, r in sorted(rows.items())]

    def finished_since(self, after: tuple[float, int], limit: int) -> list[tuple]:
        """Jobs finished after ``after`` (done_at, id), oldest first, up to ``limit``: rows of
        (done_at, id, task, queue, state, attempts, started_at, history, exc_type). For
        counting outcomes as they happen (/metrics)."""
        sql = ("SELECT done_at, id, task, queue, state, attempts, started_at, history, exc_type FROM lq_jobs "
               "WHERE done_at IS NOT NULL AND done_at >= ? AND (done_at > ? OR id > ?) "  # a range on the index
               "ORDER BY done_at, id LIMIT ?")
        with self.errors():
            return self.db.execute_sql(self.sql(sql), (after[0], after[0], after[1], limit)).fetchall()

    def done_per_bucket(self, start: float, width: float) -> dict[tuple[int, str], int]:
        """{(bucket, state): jobs finished} for buckets of ``width`` seconds from ``start``."""
        sql = ("SELECT CAST((done_at - ?) / ? AS INTEGER), state, COUNT(*) FROM lq_jobs "
               "WHERE done_at IS NOT NULL AND done_at >= ? GROUP BY 1, 2")
        with self.errors():
            return {(b, s): n for b, s, n in self.db.execute_sql(self.sql(sql), (start, width, start)).fetchall()}

    # -- paused queues -------------------------------------------------------------------------

    def pause_queue(self, queue: str) -> bool:
        """Stop every worker claiming from ``queue`` (the claim skips it) until resumed; jobs
        keep arriving. False if it was paused already."""
        with self.errors(), self.write():
            if queue in self.paused_queues():
                return False
            self.db.execute_sql(self.sql("INSERT INTO lq_paused (queue, paused_at) VALUES (?, ?)"),
                                (queue, time.time()))
        return True

    def resume_queue(self, queue: str) -> bool:
        """Let workers claim from ``queue`` again; False if it was not paused."""
        with self.errors(), self.write():
            n = self.db.execute_sql(self.sql("DELETE FROM lq_paused WHERE queue = ?"), (queue,)).rowcount
        if n:
            self.notify()
        return bool(n)

    def paused_queues(self) -> set[str]:
        """The queues paused now (read inside a claim's transaction, so a pause is obeyed by the
        next claim of every worker)."""
        sql = "SELECT queue FROM lq_paused WHERE queue > ''"  # through its primary key's index
        return {row[0] for row in self.db.execute_sql(sql).fetchall()}
