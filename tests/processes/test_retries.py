"""Retries through real worker processes: automatic, explicit, Reject, worker-lost, signals, and
the failed/retry commands. Delays are checked on the etas stored in the row, never by sleeping:
a test that needs the next attempt now makes the job due by clearing its wait in the database."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess

import pytest

from litequeue import MaxRetriesExceededError, WorkerLostError, states
from tests.conftest import POOLS, ROOT, ledger_counts, litequeue_command


@pytest.fixture(params=POOLS)
def pool(request: pytest.FixtureRequest) -> str:
    """Every test here runs under each pool (-P prefork, threads, solo)."""
    return request.param


def make_due(db: str, task_id: str) -> None:
    """Skip the wait of a job scheduled for later (as if its eta had come)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            assert conn.execute("UPDATE lq_jobs SET wait_until = NULL WHERE task_id = ?", (task_id,)).rowcount == 1
    finally:
        conn.close()


def waiting_until(db: str, task_id: str) -> float | None:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT wait_until FROM lq_jobs WHERE task_id = ?", (task_id,)).fetchone()[0]
    finally:
        conn.close()


def assert_retry_in(job, seconds: float) -> None:
    """The job waits in RETRY, its stored eta ``seconds`` after its failed attempt: no earlier than
    the attempt's start plus ``seconds``, no later than the failure's record plus ``seconds``."""
    assert job.state == states.RETRY
    assert job.started_at + seconds <= job.eta <= job.history[-1]["time"] + seconds


def cli(worker_env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(litequeue_command() + list(args), cwd=ROOT, env=worker_env, capture_output=True,
                          text=True, timeout=60)


# -- automatic retries ---------------------------------------------------------------------------


def test_a_task_failing_twice_then_succeeding_ends_success_with_two_retries_and_their_history(app, run_burst, ledger):
    from tests.support.tasks import flaky

    result = flaky.delay("f", 2)
    run_burst("-c", "1")
    assert result.get(timeout=10) == 2
    assert result.state == states.SUCCESS
    assert result.retries == 2
    assert ledger_counts(ledger)["f"] == 3
    history = result.history
    assert [h["attempt"] for h in history] == [1, 2]
    for n, entry in enumerate(history, start=1):
        assert entry["exc_type"] == "tests.support.tasks.FlakyError"
        assert entry["message"] == f"flaky failure {n} of 2"
        assert entry["worker"].startswith("worker-")
        assert entry["time"] > 0
        assert "raise FlakyError" in entry["traceback"]
        assert "tests/support/tasks.py" in entry["traceback"]


def test_exhausted_retries_end_failure_and_get_reraises_the_original_exception(app, run_burst, ledger):
    from tests.support.tasks import FlakyError, flaky

    result = flaky.delay("f", 10)
    run_burst("-c", "1")
    with pytest.raises(FlakyError, match="flaky failure 4 of 10"):
        result.get(timeout=10)
    assert result.state == states.FAILURE
    assert ledger_counts(ledger)["f"] == 4  # the first run and max_retries=3 retries
    assert len(result.history) == 4
    assert "raise FlakyError" in result.traceback


def test_max_retries_none_retries_until_the_task_succeeds_keeping_the_last_ten_attempts(app, run_burst, ledger):
    from tests.support.tasks import flaky_forever

    result = flaky_forever.delay("f", 12)
    run_burst("-c", "1")
    assert result.get(timeout=10) == "finally"
    assert result.retries == 12
    assert ledger_counts(ledger) == {"f": 13}
    assert [h["attempt"] for h in result.history] == list(range(3, 13))  # bounded: the latest ten


def test_dont_autoretry_for_fails_at_once_while_other_errors_retry(app, run_burst, ledger):
    from tests.support.tasks import fails_with

    key_error = fails_with.delay("k", "KeyError")
    lookup_error = fails_with.delay("l", "LookupError")
    run_burst("-c", "1")
    assert key_error.state == lookup_error.state == states.FAILURE
    assert ledger_counts(ledger)["k"] == 1
    assert ledger_counts(ledger)["l"] == 3
    with pytest.raises(KeyError):
        key_error.get(timeout=1)
    with pytest.raises(LookupError):
        lookup_error.get(timeout=1)


def test_a_retry_waits_in_state_retry_with_its_eta_stored_and_survives_a_worker_restart(
        app, run_burst, start_worker, ledger):
    from tests.support.tasks import fails_once_soon

    result = fails_once_soon.delay("f")
    run_burst("-c", "1")  # runs the first attempt; the retry is not due yet, so the worker exits
    job = result.job
    assert job.state == states.RETRY
    assert waiting_until(app.url, result.id) == job.eta
    assert_retry_in(job, 60)
    assert job.exc_type == "tests.support.tasks.FlakyError"
    assert isinstance(result.result, OSError)
    worker = start_worker("-c", "1")  # a new worker process knows of the retry only from the row
    worker.wait_for_log("ready")
    assert result.state == states.RETRY  # not due yet, so not run
    make_due(app.url, result.id)
    assert result.get(timeout=30) == "second run"
    assert result.retries == 1
    assert ledger_counts(ledger) == {"f": 2}
    worker.signal(15)
    assert worker.wait() == 0


def test_retry_backoff_doubles_from_its_factor_up_to_retry_backoff_max(app, run_burst, ledger):
    from tests.support.tasks import FlakyError, backoff_fails

    result = backoff_fails.delay("b")
    for delay in (10, 20, 25):  # 10 * 2**n, capped at retry_backoff_max=25
        run_burst("-c", "1")
        assert_retry_in(result.job, delay)
        assert waiting_until(app.url, result.id) == result.job.eta
        make_due(app.url, result.id)
    run_burst("-c", "1")
    with pytest.raises(FlakyError):
        result.get(timeout=1)
    assert ledger_counts(ledger) == {"b": 4}


def test_retry_jitter_schedules_the_retry_no_later_than_the_backoff(app, run_burst):
    from tests.support.tasks import jittered_fails

    result = jittered_fails.delay("j")
    run_burst("-c", "1")
    job = result.job
    first = job.history[0]
    if job.state == states.RETRY:  # the retry waits, somewhere within the backoff
        assert job.started_at <= job.eta <= first["time"] + 100
    else:  # the jitter drew (next to) no delay (about 1 run in 100): the burst worker ran the retry too
        assert job.state == states.FAILURE and len(job.history) == 2, job.history
        assert first["time"] <= job.history[1]["time"] <= first["time"] + 100


# -- explicit retries ----------------------------------------------------------------------------


def test_self_retry_with_countdown_stores_that_eta_and_counts_the_retry(app, run_burst, ledger):
    from tests.support.tasks import retry_later

    result = retry_later.delay("r", countdown=45)
    run_burst("-c", "1")
    job = result.job
    assert job.state == states.RETRY
    assert_retry_in(job, 45)
    assert job.history[0]["exc_type"] == "tests.support.tasks.FlakyError"
    assert job.history[0]["message"] == "try later"
    make_due(app.url, result.id)
    run_burst("-c", "1")
    assert result.get(timeout=1) == 1  # self.request.retries on the second run
    assert result.retries == 1
    assert ledger_counts(ledger) == {"r": 2}


def test_self_retry_with_an_eta_datetime_stores_exactly_that_eta(app, run_burst):
    from tests.support.tasks import retry_later

    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2)
    result = retry_later.delay("r", eta=when)
    run_burst("-c", "1")
    assert result.state == states.RETRY
    assert result.job.eta == when.timestamp()
    assert waiting_until(app.url, result.id) == when.timestamp()


def test_self_retry_past_max_retries_reraises_the_given_exception(app, run_burst, ledger):
    from tests.support.tasks import FlakyError, retry_until_limit

    result = retry_until_limit.delay("x", True)
    run_burst("-c", "1")
    with pytest.raises(FlakyError, match="attempt 3"):
        result.get(timeout=1)
    assert [ledger_counts(ledger).get(f"x-r{n}") for n in range(4)] == [1, 1, 1, None]
    assert [h["message"] for h in result.history] == ["attempt 1", "attempt 2", "attempt 3"]


def test_self_retry_past_max_retries_without_an_exception_raises_max_retries_exceeded(app, run_burst, ledger):
    from tests.support.tasks import retry_until_limit

    result = retry_until_limit.delay("x", False, limit=1)  # retry(max_retries=1) overrides the task's 2
    run_burst("-c", "1")
    with pytest.raises(MaxRetriesExceededError, match="max_retries=1"):
        result.get(timeout=1)
    assert [ledger_counts(ledger).get(f"x-r{n}") for n in range(3)] == [1, 1, None]


def test_self_retry_honours_a_max_retries_given_when_the_job_was_sent(app, run_burst, ledger):
    from tests.support.tasks import FlakyError, retry_until_limit

    result = retry_until_limit.apply_async(("x", True), max_retries=0)  # the task's own limit is 2
    run_burst("-c", "1")
    with pytest.raises(FlakyError, match="attempt 1"):
        result.get(timeout=1)
    assert [ledger_counts(ledger).get(f"x-r{n}") for n in range(2)] == [1, None]


def test_reject_without_requeue_ends_failure_with_the_reason_and_no_retry(app, run_burst, ledger):
    from litequeue import Reject
    from tests.support.tasks import rejects

    result = rejects.delay("r", False)
    run_burst("-c", "1")
    assert result.state == states.FAILURE
    assert ledger_counts(ledger) == {"r": 1}  # autoretry_for=(Exception,) does not apply to Reject
    with pytest.raises(Reject, match="not for me"):
        result.get(timeout=1)


def test_reject_with_requeue_puts_the_job_back_to_run_again(app, run_burst, ledger):
    from tests.support.tasks import rejects

    result = rejects.delay("r", True)
    run_burst("-c", "1")
    assert result.get(timeout=10) == ["accepted", 0]  # a requeue is not a retry: request.retries stays 0
    assert ledger_counts(ledger) == {"r": 2}
    assert app.store.get(result.id).attempts == 1  # the rejected attempt was refunded


# -- worker lost and signals ---------------------------------------------------------------------


@pytest.mark.prefork_only("the task kills the process it runs in: under threads or solo, the worker")
def test_a_job_that_kills_its_worker_process_counts_against_max_retries(app, run_burst, ledger):
    from tests.support.tasks import exits_hard

    result = exits_hard.delay("x")
    run_burst("-c", "1")
    assert result.state == states.FAILURE
    assert ledger_counts(ledger) == {"x": 2}  # max_retries=1
    with pytest.raises(WorkerLostError):
        result.get(timeout=1)
    assert [h["exc_type"] for h in result.history] == ["litequeue.errors.WorkerLostError"] * 2


def test_task_retry_and_task_failure_signals_fire_in_the_worker(app, run_burst, ledger):
    from tests.support.tasks import flaky

    retried = flaky.delay("ok", 2)
    failed = flaky.delay("bad", 10)
    run_burst("-c", "1")
    counts = ledger_counts(ledger)
    assert counts[f"task_retry-{retried.id}"] == 2
    assert f"task_failure-{retried.id}" not in counts
    assert counts[f"task_retry-{failed.id}"] == 3
    assert counts[f"task_failure-{failed.id}"] == 1


# -- failed jobs from the command line -----------------------------------------------------------


def test_failed_lists_failed_jobs_and_retry_runs_one_again_keeping_its_history(
        app, run_burst, ledger, worker_env):
    from tests.support.tasks import add, fails_first_run

    result = fails_first_run.delay("c")
    ok = add.delay(1, 2)
    run_burst("-c", "1")
    assert result.state == states.FAILURE and ok.state == states.SUCCESS

    listed = cli(worker_env, "failed", app.url)
    assert listed.returncode == 0, listed.stderr
    assert result.id in listed.stdout and "fails_first_run" in listed.stdout
    assert "FlakyError: first run fails" in listed.stdout
    assert ok.id not in listed.stdout
    rows = json.loads(cli(worker_env, "failed", app.url, "--json").stdout)
    assert [(r["id"], r["task"], r["attempts"], r["exc_type"]) for r in rows] == [
        (result.id, "tests.support.tasks.fails_first_run", 1, "tests.support.tasks.FlakyError")]

    requeued = cli(worker_env, "retry", app.url, result.id)
    assert requeued.returncode == 0, requeued.stderr
    assert result.job.state == states.QUEUED and result.job.attempts == 0
    run_burst("-c", "1")
    assert result.get(timeout=1) == "ran again"
    assert ledger_counts(ledger) == {"c": 2}
    assert len(result.history) == 1
    shown = cli(worker_env, "result", app.url, result.id)
    assert "FlakyError: first run fails" in shown.stdout and "attempt 1" in shown.stdout


def test_retry_all_and_retry_task_requeue_the_matching_failed_jobs(app, run_burst, ledger, worker_env):
    from tests.support.tasks import fails_first_run, fails_with

    firsts = [fails_first_run.delay(f"c{i}") for i in range(3)]
    other = fails_with.delay("k", "KeyError")
    run_burst("-c", "1")
    assert cli(worker_env, "retry", app.url, "--task", "tests.support.tasks.fails_first_run").returncode == 0
    assert [r.job_state for r in firsts] == [states.QUEUED] * 3 and other.state == states.FAILURE
    run_burst("-c", "1")
    assert [r.get(timeout=1) for r in firsts] == ["ran again"] * 3
    done = cli(worker_env, "retry", app.url, "--all")
    assert done.returncode == 0, done.stderr
    assert other.job_state == states.QUEUED
    assert "1 job" in done.stdout


def test_retry_refuses_unknown_ids_and_missing_arguments(app, worker_env):
    _ = app.store  # create the database
    unknown = cli(worker_env, "retry", app.url, "no-such-id")
    assert unknown.returncode == 1
    assert "no-such-id" in unknown.stderr and "Traceback" not in unknown.stderr
    nothing = cli(worker_env, "retry", app.url)
    assert nothing.returncode == 2 and "--all" in nothing.stderr


def test_a_job_whose_worker_was_killed_gets_a_history_entry_for_the_lost_attempt(app, start_worker, ledger):
    import os
    import signal
    import time as _time

    from tests.support.tasks import slow_record

    result = slow_record.delay("lost-history", 30)
    first = start_worker("-c", "1")
    deadline = _time.monotonic() + 30
    while not (ledger / "lost-history-start.0").exists() and _time.monotonic() < deadline:
        _time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # main process and child: nobody heartbeats any more
    first.wait(10)
    app.store.db.execute_sql("UPDATE lq_jobs SET lease_until = 0 WHERE task_id = ?", (result.id,))
    app.store.rescue_expired()
    entries = result.history
    assert len(entries) == 1
    assert entries[0]["exc_type"] == "litequeue.errors.WorkerLostError"
    assert entries[0]["attempt"] == 1 and entries[0]["worker"].startswith("worker-")
    assert result.job_state == "QUEUED"
