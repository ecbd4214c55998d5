"""Workers whose clocks disagree (issue 21, item 12). On SQLite leases follow each process's clock
(documented): the others warn about a worker whose clock runs ahead. On PostgreSQL leases follow
the server's clock, so such a worker takes no running job (tests/postgres/test_clock_skew_on_postgres.py).
A lost lease is reported once, not at every heartbeat."""

from __future__ import annotations

import time

from tests.conftest import WorkerProcess, ledger_counts
from tests.support import tasks
from tests.support.observe import wait_until


def _heartbeat(app, name: str) -> float:
    return next(w.heartbeat_at for w in app.store.workers() if w.name == name)


def start_ahead(db: str, worker_env: dict, tmp_path, seconds: float, *args: str) -> WorkerProcess:
    """A worker on a machine whose clock is ``seconds`` ahead."""
    return WorkerProcess(db, list(args), {**worker_env, "LQ_CLOCK_AHEAD": str(seconds)}, tmp_path / "ahead.log")


def test_a_worker_whose_clock_runs_ahead_is_reported_once_by_the_others(app, db, start_worker, worker_env, tmp_path):
    healthy = start_worker("-c", "1", "-n", "healthy@test")
    healthy.wait_for_log("ready")
    ahead = start_ahead(db, worker_env, tmp_path, 30, "-c", "1", "-n", "ahead@test")
    try:
        ahead.wait_for_log("ready")
        healthy.wait_for_log("The clock of worker ahead@test is 30 s ahead")
        warned_at = time.time()
        wait_until(lambda: _heartbeat(app, "healthy@test") > warned_at + 2, what="more heartbeats")
        assert healthy.output().count("The clock of worker ahead@test") == 1
    finally:
        ahead.stop()


def test_a_lost_lease_is_reported_once(app, db, start_worker, ledger):
    job = tasks.slow_record.delay("long", 3.0)
    worker = start_worker("-c", "1")
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    app.store.db.execute_sql(app.store.sql("UPDATE lq_jobs SET lease_owner = ?, lease_until = ? WHERE task_id = ?"),
                             ("another-worker/1", time.time() + 3600, job.id))  # its lease, taken over meanwhile
    wait_until(lambda: "long" in ledger_counts(ledger), what="the job to finish")
    worker.wait_for_log("Ignored 1 late outcome")
    assert worker.output().count("lease lost") == 1  # heartbeats every 0.5 s: 5 or so passed
