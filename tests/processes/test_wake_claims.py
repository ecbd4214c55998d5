"""Claiming at the wake-up: an idle prefork worker on SQLite arms one pool process to watch the
store's wake-up socket and claim the next job itself. Each test checks that the job really went
that way (the worker's debug log names the process) and that the worker's guarantees hold for it:
the job runs once and is recorded, time limits and revokes reach it, an expired one is revoked
unrun, a killed armed process loses nothing, and a stop leaves nothing claimed behind."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from litequeue import states
from litequeue.errors import TaskRevokedError
from tests.conftest import ledger_counts
from tests.processes.test_operations import wait_until
from tests.support import tasks
from tests.support.observe import alive

WATCHING = re.compile(r"Pool process (\d+) watches for wake-ups")


@pytest.fixture
def worker_env(worker_env: dict) -> dict:
    """No backstop poll during a test: the main process claims only when a report asks it to, so
    a job sent to an armed worker can only be taken by the armed process."""
    return {**worker_env, "LQ_POLL": "60"}


def armed_pid(worker, after: int = 0) -> int:
    """A pool process (other than ``after``) armed for the second time: its first arming ends at
    once with a claim that warms its connection, so only from the second does it wait for a job."""
    found: list[int] = []

    def armed() -> bool:
        pids = [int(pid) for pid in WATCHING.findall(worker.output()) if int(pid) != after]
        found[:] = [pid for pid in pids if pids.count(pid) >= 2]
        return bool(found)

    wait_until(armed, what="a pool process armed for wake-ups")
    return found[-1]


def claimed_by(worker, result, pid: int) -> None:
    worker.wait_for_log(f"{result.id}] claimed by pool process {pid} at a wake-up")


def test_a_job_sent_to_an_idle_worker_runs_once_in_the_process_that_claimed_it(app, ledger, start_worker):
    worker = start_worker("-c", "2", "-l", "debug")
    armed = armed_pid(worker)
    result = tasks.pid.delay()
    assert result.get(timeout=30) == armed
    claimed_by(worker, result, armed)
    job = app.store.get(result.id)
    assert job.state == states.SUCCESS and job.attempts == 1
    assert f"Task tests.support.tasks.pid[{result.id}] received" in worker.output()


def test_many_jobs_sent_to_an_idle_worker_each_run_exactly_once(app, ledger, start_worker):
    worker = start_worker("-c", "2", "-l", "debug")
    armed_pid(worker)
    results = [tasks.record.delay(f"job{i}") for i in range(60)]
    for result in results:
        result.get(timeout=60)
    assert ledger_counts(ledger) == {f"job{i}": 1 for i in range(60)}
    assert "at a wake-up" in worker.output()


def test_the_hard_time_limit_ends_a_job_its_process_claimed(app, ledger, start_worker):
    worker = start_worker("-c", "1", "-l", "debug")
    armed = armed_pid(worker)
    result = tasks.hard_limited_task.delay("limited")
    claimed_by(worker, result, armed)
    wait_until(lambda: result.state == states.FAILURE, what="the job to fail on its time limit")
    assert app.store.get(result.id).exc_type.endswith("TimeLimitExceeded")
    assert ledger_counts(ledger) == {"limited-start": 1}


def test_revoke_with_terminate_ends_a_job_its_process_claimed(app, ledger, start_worker):
    worker = start_worker("-c", "1", "-l", "debug")
    armed = armed_pid(worker)
    result = tasks.slow_record.delay("long", 60)
    claimed_by(worker, result, armed)
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    app.control.revoke(result.id, terminate=True)
    wait_until(lambda: result.state == states.REVOKED, what="the job to end revoked")
    with pytest.raises(TaskRevokedError):
        result.get(timeout=1)
    assert tasks.add.delay(2, 2).get(timeout=30) == 4


def test_a_job_that_expired_before_its_claim_is_revoked_without_running(app, ledger, start_worker):
    worker = start_worker("-c", "1", "-l", "debug")
    armed = armed_pid(worker)
    expired = tasks.record.apply_async(("late",), expires=datetime.now(UTC) - timedelta(seconds=1))
    claimed_by(worker, expired, armed)
    wait_until(lambda: expired.state == states.REVOKED, what="the expired job to be revoked")
    assert tasks.add.delay(1, 1).get(timeout=30) == 2
    assert "late" not in ledger_counts(ledger)


def test_a_killed_armed_process_is_replaced_and_the_next_job_still_runs(app, ledger, start_worker):
    worker = start_worker("-c", "1", "-l", "debug")
    first = armed_pid(worker)
    os.kill(first, signal.SIGKILL)
    second = armed_pid(worker, after=first)  # the replacement, armed in its turn
    result = tasks.pid.delay()
    assert result.get(timeout=30) == second
    claimed_by(worker, result, second)


def test_a_stopped_worker_leaves_no_process_behind_to_claim(app, ledger, start_worker):
    worker = start_worker("-c", "2", "-l", "debug")
    armed = armed_pid(worker)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    wait_until(lambda: not alive(armed), what="the armed pool process to exit")
    late = tasks.record.delay("after-stop")
    time.sleep(0.5)  # nothing is left that could claim it; give a leftover the chance to show
    assert app.store.get(late.id).state == states.QUEUED



def _lease_owner(db: str, task_id: str) -> str | None:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT lease_owner FROM lq_jobs WHERE task_id = ?", (task_id,)).fetchone()[0]


def _armings(worker, pid: int) -> int:
    return [int(found) for found in WATCHING.findall(worker.output())].count(pid)


def test_a_job_claimed_by_an_armed_process_that_died_before_reporting_is_queued_again_at_once(
        app, db, ledger, start_worker):
    """The claim commits, then the process dies before its report (which goes in the same write
    as the job's "began"): the job never began, so the worker puts it back at once with its attempt
    refunded, rather than a heartbeat later as a lost job."""
    worker = start_worker("-c", "1", "-l", "debug", "-Q", "celery")
    slow = tasks.slow_record.delay("owner", 1.0)
    wait_until(lambda: _lease_owner(db, slow.id) is not None, what="the worker to hold a job")
    owner = _lease_owner(db, slow.id)
    slow.get(timeout=30)
    armed = armed_pid(worker)
    # The claim a process makes, made here (as the worker, on a queue it does not consume, so that
    # nothing else takes the job): first the wake-up it sends ends the arming and the process is
    # armed again; then the claim, without a wake-up; then the process dies before it could report.
    before = _armings(worker, armed)
    orphan = tasks.record.apply_async(("orphan",), queue="elsewhere")
    wait_until(lambda: _armings(worker, armed) > before, what="the process to be armed again")
    (claimed,) = app.store.claim(owner, ["elsewhere"], (), 1, app.conf.worker_lease_seconds)  # the worker's lease
    assert claimed.task_id == orphan.id and app.store.get(orphan.id).state == states.RESERVED
    os.kill(armed, signal.SIGKILL)
    worker.wait_for_log(f"[{orphan.id}] was claimed by a pool process that died before beginning it: queued again")
    job = app.store.get(orphan.id)
    assert job.state == states.QUEUED and job.attempts == 0 and _lease_owner(db, orphan.id) is None
    assert tasks.add.delay(2, 2).get(timeout=30) == 4  # its replacement works
    assert "orphan" not in ledger_counts(ledger)
