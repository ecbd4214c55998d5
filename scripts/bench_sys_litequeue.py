"""The benchmark adapter for litequeue itself (see bench_runner.py for the interface).

Options: ``sync=full|normal`` (the producer's and the worker's sqlite_synchronous); ``queue=NAME``
for enqueue_each (``transient`` is a delivery_mode=1 queue); ``db=PATH``
to reuse a prepared database (a backlog built by bench_growth.py) instead of a fresh file per
reset; ``burst=0`` to drain with a long-running worker stopped once the jobs are done. Only jobs
that finished after the last reset() are counted, so a reused database's history is ignored.
Jobs are the no-op and stamp tasks of bench_tasks.py; the worker is the real
``litequeue worker DB -A bench_tasks -c 2`` command, run from scripts/.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
BATCH = 1_000


def litequeue_command() -> list[str]:
    """The ``litequeue`` script beside this Python, else ``python -m litequeue``."""
    script = Path(sys.executable).parent / "litequeue"
    return [str(script)] if script.exists() else [sys.executable, "-m", "litequeue"]


def bulk_api_name(app) -> str:
    """Which bulk API the benchmark uses, and what it would use if the app had a public one."""
    return "task.starmap() of 1,000 calls per transaction (app.enqueue_many underneath)"


class System:
    """litequeue with a fresh SQLite file per reset()."""

    def __init__(self, workdir: str, options: dict) -> None:
        self.workdir = workdir
        self.sync = options.get("sync", "full")
        self.fixed_db = options.get("db")
        self.queue = options.get("queue")
        self.burst_drain = options.get("burst", "1") != "0"
        self.since = 0.0
        os.environ["LQ_BENCH_SYNC"] = self.sync
        sys.path.insert(0, str(SCRIPTS))
        import bench_tasks

        self.tasks = bench_tasks
        self.app = bench_tasks.app
        self.app.conf.sqlite_synchronous = self.sync
        self.bulk_api = bulk_api_name(self.app)
        self.db = ""
        self.generation = 0
        self._reader: sqlite3.Connection | None = None

    def reset(self) -> None:
        self.close()
        self.generation += 1
        self.db = self.fixed_db or os.path.join(self.workdir, f"litequeue-{os.getpid()}-{self.generation}.sqlite")
        self.app.url = self.db
        self.since = time.time()
        self.app.store  # noqa: B018 - create the file and its schema outside any timing

    def close(self) -> None:
        self.app.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- producing ------------------------------------------------------------------------------

    def enqueue_each(self, n: int) -> None:
        if self.queue:
            send, queue = self.tasks.noop.apply_async, self.queue
            for _ in range(n):
                send(queue=queue)
            return
        delay = self.tasks.noop.delay
        for _ in range(n):
            delay()

    def enqueue_bulk(self, n: int) -> None:
        task = self.tasks.noop
        for start in range(0, n, BATCH):
            task.starmap(() for _ in range(min(BATCH, n - start)))

    fill = enqueue_bulk

    def send_stamp(self, tag: str) -> None:
        self.tasks.stamp.apply_async(task_id=tag)

    def send_work(self, tag: str, seconds: float) -> None:
        self.tasks.work.apply_async((tag, seconds), task_id=tag)

    def send_hold(self, tag: str, seconds: float) -> None:
        self.tasks.hold.apply_async((tag, seconds), task_id=tag)

    def revoke_terminate(self, tag: str) -> None:
        self.app.control.revoke(tag, terminate=True)

    def job_state(self, tag: str) -> str | None:
        rows = self._query("SELECT state FROM lq_jobs WHERE task_id = ?", (tag,))
        return rows[0][0] if rows else None

    def attach(self, db: str) -> None:
        """Point at the database ``db`` of another process's run without opening it (a fresh
        producer: the first send opens the store)."""
        self.db = db
        self.app.url = db

    def work_stamps(self) -> dict[str, float]:
        rows = self._query("SELECT task_id, result FROM lq_jobs WHERE task = 'bench_tasks.work' AND state = 'SUCCESS'")
        return {task_id: json.loads(result) for task_id, result in rows}

    def worker_command(self, burst: bool) -> tuple[list[str], str, dict]:
        argv = litequeue_command() + ["worker", self.db, "-A", "bench_tasks", "-c", "2"]
        env = {**os.environ, "LQ_BENCH_SYNC": self.sync}
        return argv + (["--burst"] if burst else []), str(SCRIPTS), env

    def claim_ack(self, n: int, batch: int) -> float:
        """Store.claim of ``batch`` jobs, then Store.finish of them, in this process, until n are
        done: the worker's store statements without the pool."""
        from litequeue.store import Outcome

        self.fill(n)
        store, done = self.app.store, 0
        t = time.perf_counter()
        while done < n:
            jobs = store.claim("bench", None, (), batch, 60.0)
            store.finish("bench", [Outcome(j.id, j.attempts, "SUCCESS", b"null", "application/json") for j in jobs])
            done += len(jobs)
        return n / (time.perf_counter() - t)

    # -- reading what happened --------------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self._reader is None:
            self._reader = sqlite3.connect(self.db, timeout=30)
        return self._reader.execute(sql, params).fetchall()

    def broker(self) -> str:
        """What a fresh producer needs to reach this run's jobs (``attach``)."""
        return self.db

    def done_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM lq_jobs WHERE state = 'SUCCESS' AND done_at >= ?", (self.since,))[0][0]

    def stamps(self) -> dict[str, float]:
        rows = self._query("SELECT task_id, result FROM lq_jobs WHERE task = 'bench_tasks.stamp' AND state = 'SUCCESS'")
        return {task_id: json.loads(result) for task_id, result in rows}

    def done_time(self, tag: str) -> float:
        return self._query("SELECT done_at FROM lq_jobs WHERE task_id = ?", (tag,))[0][0]

    def window(self) -> tuple[float, float]:
        """First started_at to last done_at of the no-op jobs, as the store recorded them."""
        return tuple(self._query(
            "SELECT MIN(started_at), MAX(done_at) FROM lq_jobs WHERE task = 'bench_tasks.noop' AND started_at >= ?",
            (self.since,))[0])
