"""Short jobs wait in a child's pipe behind the one it runs (so it never idles for a round trip
through the main process). What waits there is never lost, run twice, or run past a limit."""

from __future__ import annotations

import sqlite3

from litequeue import states
from litequeue.errors import WorkerLostError
from tests.conftest import integrity_ok, ledger_counts
from tests.support import tasks


def attempts_by_state(db: str, task: str) -> dict[tuple[str, int], int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT state, attempts, COUNT(*) FROM lq_jobs WHERE task = ? GROUP BY 1, 2", (task,))
        return {(state, attempts): n for state, attempts, n in rows}
    finally:
        conn.close()


def test_jobs_waiting_behind_a_job_that_kills_its_child_run_once_without_a_lease_expiry(app, db, ledger, run_burst):
    crashes = []
    for i in range(400):
        tasks.record.delay(f"r{i}")
        if i % 50 == 25:  # after enough short jobs that the next ones are queued two deep
            crashes.append(tasks.exit_with.apply_async((f"x{i}", 3), max_retries=0))
    worker = run_burst("-c", "2")
    counts = ledger_counts(ledger)
    wrong = {f"r{i}": counts.get(f"r{i}", 0) for i in range(400) if counts.get(f"r{i}", 0) != 1}
    assert not wrong, (wrong, worker.output()[-3000:])
    # Attempt 1 for every one: none was lost with its child and rescued after its lease expired.
    assert attempts_by_state(db, "tests.support.tasks.record") == {(states.SUCCESS, 1): 400}
    for crash in crashes:
        assert crash.state == states.FAILURE and isinstance(crash.result, WorkerLostError)
    assert integrity_ok(db)


def test_a_child_with_max_tasks_per_child_runs_exactly_that_many_short_jobs(app, db, ledger, run_burst):
    results = [tasks.pid.delay() for _ in range(30)]
    run_burst("-c", "1", "--max-tasks-per-child", "3")
    pids = [r.get(timeout=5) for r in results]
    assert [pids.count(p) for p in dict.fromkeys(pids)] == [3] * 10
