"""Warm and cold shutdown of a real worker.

Warm (first SIGTERM or SIGINT): running jobs finish, nothing new is claimed, exit 0. Cold (a
second signal, or SIGQUIT): running jobs are handed back at once, so another worker takes them
without waiting for their lease to expire."""

from __future__ import annotations

import signal

import pytest

from litequeue import states
from tests.conftest import integrity_ok, ledger_counts
from tests.support import tasks
from tests.support.observe import row, wait_until


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_warm_shutdown_finishes_running_jobs_and_claims_nothing_new(app, db, ledger, start_worker, signum):
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    running = tasks.attempt_record.delay("running", 1.0)
    wait_until(lambda: ledger_counts(ledger).get("running-start"), what="the job to start")
    waiting = [tasks.record.delay(f"waiting{i}") for i in range(3)]
    worker.signal(signum)
    assert worker.wait() == 0
    assert running.get(timeout=5)["attempt"] == 1
    for result in waiting:
        stored = row(db, result.id)
        assert (stored["state"], stored["lease_owner"], stored["attempts"]) == (states.QUEUED, None, 0)
    assert ledger_counts(ledger) == {"running-start": 1, "running": 1}
    assert integrity_ok(db)


@pytest.mark.parametrize("how", ["second SIGTERM", "SIGQUIT"])
def test_cold_shutdown_releases_running_jobs_at_once(app, db, ledger, start_worker, run_burst, how):
    worker = start_worker("-c", "2")
    worker.wait_for_log("ready")
    jobs = [tasks.long_the_first_time.delay(f"job{i}", 60) for i in range(2)]
    wait_until(lambda: len(ledger_counts(ledger)) == 2, what="both jobs to start")
    if how == "SIGQUIT":
        worker.signal(signal.SIGQUIT)
    else:
        worker.signal(signal.SIGTERM)
        worker.wait_for_log("Warm shutdown")
        worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    for result in jobs:
        stored = row(db, result.id)
        assert (stored["state"], stored["lease_owner"], stored["lease_until"]) == (states.QUEUED, None, None)
        assert stored["attempts"] == 0  # the interrupted attempt was refunded
    run_burst("-c", "2", "-n", "taker")  # a burst worker only takes due, unleased jobs
    for result in jobs:
        assert result.get(timeout=5) == {"runs": 2, "hostname": "taker"}
        assert row(db, result.id)["attempts"] == 1
    assert integrity_ok(db)
