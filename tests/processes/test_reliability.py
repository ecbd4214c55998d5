"""Delivery you can trust, shown with real workers and real signals: leases and fencing,
attempts counted at claim, dead children and dead workers, time limits, recycling.

The test app leases jobs for 3 s and heartbeats every 0.5 s (tests/support/tasks.py)."""

from __future__ import annotations

import os
import signal

import pytest

from litequeue import states
from litequeue.errors import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError
from tests.conftest import integrity_ok, ledger_counts
from tests.support import tasks
from tests.support.observe import alive, child_pids, ledger_pids, row, wait_until
from tests.support.scenarios import late_completion_is_fenced, started


def test_a_late_completion_from_a_stopped_worker_changes_nothing(app, db, ledger, start_worker):
    late_completion_is_fenced(db, ledger, start_worker, row)
    assert integrity_ok(db)


def test_a_task_that_kills_its_process_fails_with_worker_lost_after_max_retries(app, db, ledger, run_burst):
    aborts = tasks.crash.apply_async(("abort",), max_retries=1)
    exits = tasks.exit_with.apply_async(("exit", 3), max_retries=2)
    run_burst("-c", "1")
    with pytest.raises(WorkerLostError, match="SIGABRT"):
        aborts.get(timeout=5)
    with pytest.raises(WorkerLostError, match="exited with code 3"):
        exits.get(timeout=5)
    assert ledger_counts(ledger) == {"abort": 2, "exit": 3}
    assert row(db, aborts.id)["attempts"] == 2 and row(db, exits.id)["attempts"] == 3
    assert [h["exc_type"] for h in aborts.history] == ["litequeue.errors.WorkerLostError"] * 2
    assert integrity_ok(db)


def test_a_dead_child_is_replaced_and_the_next_job_runs(app, db, ledger, run_burst):
    crashed = tasks.crash.apply_async(("abort",), max_retries=0)
    after = tasks.pid.delay()
    run_burst("-c", "1")
    assert crashed.state == states.FAILURE
    assert after.get(timeout=5) not in ledger_pids(ledger, "abort")
    assert integrity_ok(db)


def test_a_crash_of_an_acks_early_job_is_recorded_as_failure_not_rerun(app, db, ledger, run_burst):
    result = tasks.crash.apply_async(("abort",), acks_late=False, max_retries=3)
    run_burst("-c", "1")
    with pytest.raises(WorkerLostError):
        result.get(timeout=5)
    assert ledger_counts(ledger) == {"abort": 1}
    assert integrity_ok(db)


def test_a_killed_worker_takes_its_children_along_and_its_jobs_run_again_elsewhere(app, db, ledger, start_worker):
    doomed = start_worker("-c", "2", "-n", "doomed")
    doomed.wait_for_log("ready")
    again = tasks.attempt_record.delay("again", 3.0)
    early = tasks.attempt_record.apply_async(("early", 3.0), acks_late=False)
    wait_until(lambda: started(ledger, "again")() and started(ledger, "early")(), what="both jobs to start")
    children = child_pids(doomed.pid)
    assert len(children) == 2
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    wait_until(lambda: not any(alive(p) for p in children), timeout=5, what="the orphaned children to exit")

    rescuer = start_worker("-c", "1", "-n", "rescuer")
    assert again.get(timeout=60)["hostname"] == "rescuer"
    with pytest.raises(WorkerLostError, match="lease expired"):
        early.get(timeout=30)
    counts = ledger_counts(ledger)
    assert counts == {"again-start": 2, "again": 1, "early-start": 1}  # no orphan finished its job
    assert row(db, again.id)["attempts"] == 2
    rescuer.signal(signal.SIGTERM)
    assert rescuer.wait() == 0
    assert integrity_ok(db)


def test_soft_time_limits_per_task_and_per_call_raise_inside_the_task(app, db, ledger, run_burst):
    per_task = tasks.soft_limited_task.delay("task")
    per_call = tasks.catches_soft_limit.apply_async(("call", 30), soft_time_limit=0.5)
    uncaught = tasks.attempt_record.apply_async(("uncaught", 30), soft_time_limit=0.5, max_retries=0)
    run_burst("-c", "2")
    assert per_task.get(timeout=5) == "cleaned up"
    assert per_call.get(timeout=5) == "cleaned up"
    with pytest.raises(SoftTimeLimitExceeded):
        uncaught.get(timeout=5)
    assert ledger_counts(ledger) == {"task-start": 1, "task-cleanup": 1, "call-start": 1,
                                     "call-cleanup": 1, "uncaught-start": 1}
    assert integrity_ok(db)


def test_the_worker_wide_soft_time_limit_applies_to_every_job(app, db, ledger, run_burst):
    result = tasks.catches_soft_limit.delay("wide", 30)
    run_burst("-c", "1", "--soft-time-limit", "0.5")
    assert result.get(timeout=5) == "cleaned up"
    assert integrity_ok(db)


def test_a_hard_time_limit_kills_the_child_which_is_replaced(app, db, ledger, run_burst):
    per_task = tasks.hard_limited_task.delay("task")
    per_call = tasks.attempt_record.apply_async(("call", 30), time_limit=0.5)
    after = tasks.pid.delay()
    run_burst("-c", "1")
    for result in (per_task, per_call):
        with pytest.raises(TimeLimitExceeded):
            result.get(timeout=5)
        assert row(db, result.id)["state"] == states.FAILURE
    assert ledger_counts(ledger) == {"task-start": 1, "call-start": 1}
    killed = ledger_pids(ledger, "task-start") + ledger_pids(ledger, "call-start")
    assert after.get(timeout=5) not in killed
    assert integrity_ok(db)


def test_the_worker_wide_hard_time_limit_applies_to_every_job(app, db, ledger, run_burst):
    slow = tasks.attempt_record.delay("wide", 30)
    quick = tasks.add.delay(1, 2)
    run_burst("-c", "1", "--time-limit", "0.5")
    with pytest.raises(TimeLimitExceeded):
        slow.get(timeout=5)
    assert quick.get(timeout=5) == 3
    assert integrity_ok(db)


def test_max_tasks_per_child_replaces_children_between_jobs(app, db, ledger, run_burst):
    results = [tasks.attempt_record.delay(f"job{i}", 0.05) for i in range(6)]
    run_burst("-c", "1", "--max-tasks-per-child", "2")
    pids = [r.get(timeout=5)["pid"] for r in results]
    assert [pids.count(p) for p in dict.fromkeys(pids)] == [2, 2, 2]
    assert integrity_ok(db)


def test_max_memory_per_child_replaces_a_grown_child_after_its_job(app, db, ledger, run_burst):
    results = [tasks.hoard_memory.delay(64) for _ in range(3)]
    small = [tasks.pid.delay() for _ in range(2)]
    run_burst("-c", "1", "--max-memory-per-child", str(48 * 1024))
    pids = [r.get(timeout=5) for r in results]
    assert len(set(pids)) == 3  # every grown child was replaced, none killed mid-job
    assert all(r.state == states.SUCCESS for r in small)
    assert integrity_ok(db)
