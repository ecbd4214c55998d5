"""Reads for watching a store (the dashboard, the HTTP API, /metrics) and paused queues (a mixin
of ``Store``). Every read here walks an index, so it stays fast on a store of millions of jobs:
pages of jobs by keyset (``id < cursor``), per-queue depths from the partial indexes, and
finished jobs from the ``done_at`` index.
"""

from __future__ import annotations

import time
from typing import Any

from .admin import JOB_COLUMNS
from .mixin import StoreMixin
from .models import CLAIMABLE
from .records import Job

# States with a partial index of their own (rarely entered, so the index costs the hot path
# nothing): a page of them walks it however rare they are among the other jobs.
INDEXED_STATES = {"FAILURE": "lq_jobs_failed", "REVOKED": "lq_jobs_revoked", "RETRY": "lq_jobs_retrying"}
KNOWN_STATES = ("QUEUED", "RESERVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
SCAN_WINDOW = 100_000  # ids one page request looks through when its filters have no index
TEXT_WINDOW = 50_000  # the same for a search in the arguments (each row's body is read)


class MonitorStore(StoreMixin):
    """page_jobs, queue_depths, finished_since, done_per_bucket, pause/resume queues."""

    def page_jobs(self, state: str | None, task: str | None, queue: str | None, sent_after: float | None,
                  sent_before: float | None, text: str | None, before: int | None,
                  limit: int) -> tuple[list[Job], int | None]:
        """Up to ``limit`` jobs matching the filters with ``id < before``, newest first, and the
        cursor to continue from (None: nothing older). A state with its own index is walked
        through it; other filters look through at most SCAN_WINDOW ids per call, so a call is
        bounded however rare the match (the cursor then continues below the window)."""
        if state is not None and state not in KNOWN_STATES:
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
