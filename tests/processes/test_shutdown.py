"""Warm and cold shutdown of a real worker, under every pool.

Warm (first SIGTERM or SIGINT): running jobs finish, nothing new is claimed, exit 0. Cold (a
second signal, or SIGQUIT): running jobs are handed back at once, so another worker takes them
without waiting for their lease to expire."""

from __future__ import annotations

import signal

import pytest

from litequeue import states
from tests.conftest import POOLS, integrity_ok, ledger_counts
from tests.support import tasks
from tests.support.observe import row, wait_until


@pytest.fixture(params=POOLS)
def pool(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_warm_shutdown_says_so_at_once_finishes_running_jobs_and_claims_nothing_new(app, db, ledger, tmp_path,
                                                                                    start_worker, signum):
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    go = tmp_path / "go"
    running = tasks.until_file.delay("running", str(go))
    wait_until(lambda: ledger_counts(ledger).get("running-start"), what="the job to start")
    waiting = [tasks.record.delay(f"waiting{i}") for i in range(3)]
    worker.signal(signum)
    worker.wait_for_log("Warm shutdown: finishing 1 running job(s)")  # said while the job still runs
    assert "running" not in ledger_counts(ledger)
    go.touch()
    assert worker.wait() == 0
    assert running.get(timeout=5) is None and running.state == states.SUCCESS
    for result in waiting:
        stored = row(db, result.id)
        assert (stored["state"], stored["lease_owner"], stored["attempts"]) == (states.QUEUED, None, 0)
    assert ledger_counts(ledger) == {"running-start": 1, "running": 1}
    assert integrity_ok(db)


@pytest.mark.parametrize("how", ["second SIGTERM", "second SIGINT", "SIGQUIT"])
def test_cold_shutdown_releases_running_jobs_at_once(app, db, ledger, start_worker, run_burst, how, pool):
    n = 1 if pool == "solo" else 2  # as many as run at once
    worker = start_worker("-c", str(n))
    worker.wait_for_log("ready")
    jobs = [tasks.long_the_first_time.delay(f"job{i}", 60) for i in range(n)]
    wait_until(lambda: len(ledger_counts(ledger)) == n, what="the jobs to start")
    if how == "SIGQUIT":
        worker.signal(signal.SIGQUIT)
    else:
        signum = signal.SIGINT if how == "second SIGINT" else signal.SIGTERM
        worker.signal(signum)
        worker.wait_for_log("Warm shutdown")
        worker.signal(signum)
    assert worker.wait(timeout=30) == 0  # at once, not when the jobs end
    out = worker.output()
    assert f"releasing {n} running job(s) back to the queue" in out and out.count("Cold shutdown:") == 2, out
    for result in jobs:
        stored = row(db, result.id)
        assert (stored["state"], stored["lease_owner"], stored["lease_until"]) == (states.QUEUED, None, None)
        assert stored["attempts"] == 0 and stored["exc_type"] is None  # refunded, and not recorded as failed
    run_burst("-c", str(n), "-n", "taker")  # a burst worker only takes due, unleased jobs
    for result in jobs:
        assert result.get(timeout=5) == {"runs": 2, "hostname": "taker"}
        assert row(db, result.id)["attempts"] == 1
    assert integrity_ok(db)
