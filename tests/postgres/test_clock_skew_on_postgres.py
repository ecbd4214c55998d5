"""On PostgreSQL leases follow the server's clock (issue 21, item 12): a worker on a machine
whose clock runs 30 s ahead takes none of a healthy worker's running jobs (on SQLite it would:
there leases follow each process's clock, and the README says to keep clocks in step)."""

from __future__ import annotations

from tests.conftest import ledger_counts
from tests.processes.test_clock_skew import start_ahead
from tests.support import tasks
from tests.support.observe import wait_until


def test_a_worker_whose_clock_runs_ahead_takes_no_running_job(app, db, start_worker, worker_env, ledger, tmp_path):
    jobs = [tasks.slow_record.delay(f"long{n}", 4.0) for n in range(2)]
    healthy = start_worker("-c", "2", "-n", "healthy@test")
    wait_until(lambda: {"long0-start", "long1-start"} <= set(ledger_counts(ledger)), what="both jobs to start")
    ahead = start_ahead(db, worker_env, tmp_path, 30, "-c", "2", "-n", "ahead@test")
    try:
        ahead.wait_for_log("ready")
        assert [job.get(timeout=60) for job in jobs] == [4.0, 4.0]
        counts = ledger_counts(ledger)
        assert counts == {"long0-start": 1, "long0": 1, "long1-start": 1, "long1": 1}  # each ran once
        assert "lost its worker" not in ahead.output() and "lease lost" not in healthy.output()
    finally:
        ahead.stop()
