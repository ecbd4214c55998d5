"""Cancelling running jobs under every pool: a revoke wakes the worker holding the job (no wait
for a heartbeat), ``terminate`` ends the job, and without it the task sees ``self.is_revoked()``
and stops cleanly.

Heartbeats are set 60 s apart here, so only the wake-up can be what reaches the job in time."""

from __future__ import annotations

import time

import pytest

from litequeue import states
from litequeue.errors import TaskRevokedError
from tests.conftest import POOLS, ledger_counts
from tests.processes.test_operations import wait_until
from tests.support import tasks

REACHED_WITHIN = 5.0  # seconds; a generous bound (the measured figure is in scripts/bench.py)


@pytest.fixture
def worker_env(worker_env: dict) -> dict:
    return {**worker_env, "LQ_HEARTBEAT": "60", "LQ_LEASE": "120"}


@pytest.mark.parametrize("pool", POOLS)
def test_revoke_terminate_ends_a_running_job_without_waiting_for_a_heartbeat(app, ledger, start_worker, pool):
    start_worker("-c", "2")
    running = tasks.slow_record.delay("long", 60)
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    asked = time.monotonic()
    app.control.revoke(running.id, terminate=True)
    wait_until(lambda: running.state == states.REVOKED, timeout=30, what="the job to end revoked")
    assert time.monotonic() - asked < REACHED_WITHIN
    with pytest.raises(TaskRevokedError):
        running.get(timeout=1)
    assert tasks.add.delay(1, 2).get(timeout=30) == 3  # the worker carries on
    assert ledger_counts(ledger) == {"long-start": 1}  # the job never reached its end


@pytest.mark.parametrize("pool", POOLS)
def test_a_running_task_sees_a_revoke_without_terminate_and_stops_cleanly(app, ledger, start_worker, pool):
    start_worker("-c", "1")
    running = tasks.until_revoked.delay("loop", 60)
    wait_until(lambda: "loop-start" in ledger_counts(ledger), what="the job to start")
    asked = time.monotonic()
    app.control.revoke(running.id)
    assert running.get(timeout=30) == "stopped"
    assert time.monotonic() - asked < REACHED_WITHIN
    assert ledger_counts(ledger) == {"loop-start": 1, "loop-stopped": 1}


def test_is_revoked_is_false_for_a_job_nobody_revoked(app, run_burst):
    result = tasks.until_revoked.delay("calm", 0.2)
    run_burst("-c", "1")
    assert result.get(timeout=1) == "ran out"
