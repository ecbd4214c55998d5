"""The threads and solo pools, and async def tasks under every pool: what only they promise
(the worker's shared behaviour is checked under each pool by test_core and test_retries)."""

from __future__ import annotations

import logging
import time

import pytest

from litequeue import states
from litequeue.errors import TimeLimitExceeded
from tests.conftest import POOLS, ledger_counts
from tests.processes.test_operations import run_cli, wait_until
from tests.support import tasks
from tests.support.observe import row


@pytest.mark.parametrize("pool", POOLS)
def test_an_async_def_task_runs_and_returns_its_value_under_every_pool(app, run_burst, pool):
    results = [tasks.async_double.delay(i) for i in range(4)]
    run_burst("-c", "2")
    assert [r.get(timeout=5) for r in results] == [0, 2, 4, 6]


@pytest.mark.parametrize("pool", ["threads"])
def test_fifty_async_sleeps_run_at_once_on_fifty_threads(app, run_burst, pool):
    results = [tasks.async_sleep.delay(1.0) for _ in range(50)]
    run_burst("-c", "50")
    spans = [r.get(timeout=5) for r in results]
    assert max(end for _, end in spans) - min(start for start, _ in spans) < 5.0  # not 50 s one after another


@pytest.mark.parametrize("pool", ["threads"])
def test_a_thread_past_its_hard_limit_is_recorded_and_replaced(app, run_burst, ledger, pool):
    over = tasks.slow_record.apply_async(("over", 3), time_limit=0.5)
    after = [tasks.record.delay(f"after{i}") for i in range(3)]
    run_burst("-c", "1")
    assert over.state == states.FAILURE
    with pytest.raises(TimeLimitExceeded):
        over.get(timeout=1)
    assert all(r.state == states.SUCCESS for r in after)  # the replacement thread ran them


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_the_soft_limit_reaches_the_task_under_threads_and_solo(app, run_burst, ledger, worker_env, pool):
    worker_env["LQ_LEDGER_SHUTDOWN"] = "1"
    result = tasks.steps_until_soft_limit.apply_async(("soft", 10), soft_time_limit=0.3)
    after = tasks.record.delay("after")
    run_burst("-c", "1")
    assert result.get(timeout=1) == "cleaned up" and after.state == states.SUCCESS
    assert ledger_counts(ledger) == {"soft-cleanup": 1, "after": 1}  # the alarm's signal is no stop request


@pytest.mark.parametrize("pool", POOLS)
def test_a_soft_limit_that_falls_while_a_run_waits_for_its_rate_limited_start_stops_nothing(app, run_burst, pool):
    """The soft limit is raised in the task's own code only: one that falls while the run waits
    for the start its rate limit granted (before the task) is not raised there, where under solo
    it ended the worker's loop."""
    results = [tasks.paced_and_soft_limited.delay(f"paced{i}") for i in range(6)]
    run_burst("-c", "1")
    assert all(r.ready() for r in results)


@pytest.mark.parametrize("pool", ["threads"])
def test_revoke_terminate_ends_a_running_job_in_a_thread(app, db, ledger, worker_env, start_worker, pool):
    worker = start_worker("-c", "1")
    running = tasks.slow_record.delay("long", 30)
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    assert run_cli("revoke", db, running.id, "--terminate", env=worker_env).returncode == 0
    wait_until(lambda: running.state == states.REVOKED, what="the job to be revoked")
    after = tasks.add.delay(1, 2)
    assert after.get(timeout=30) == 3 and worker.proc.poll() is None
    out = worker.output()
    assert "was revoked with terminate; the thread running it was told to stop" in out, out
    assert "exited with code" not in out


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_the_banner_names_the_pool_and_solo_says_it_ignores_concurrency(app, run_burst, pool):
    tasks.add.delay(1, 1)
    out = run_burst("-c", "50").output()
    assert f"concurrency {50 if pool == 'threads' else 1} ({pool})" in out and "(prefork)" not in out, out
    assert ("-c 50 (worker_concurrency) is ignored with -P solo" in out) == (pool == "solo"), out


@pytest.mark.parametrize("pool", POOLS)
def test_a_running_job_reads_started_and_inspect_active_lists_it(app, db, ledger, tmp_path, worker_env, start_worker,
                                                                 pool):
    start_worker("-c", "1", "-n", "runner@here")
    go = tmp_path / "go"
    running = tasks.until_file.delay("job", str(go))
    wait_until(lambda: running.state == states.STARTED, what="the running job to read STARTED")
    active = app.control.inspect().active()
    assert [job["id"] for job in active.get("runner@here", [])] == [running.id], active
    listed = run_cli("inspect", db, "active", env=worker_env)
    assert listed.returncode == 0 and running.id in listed.stdout, listed
    assert "job" not in ledger_counts(ledger)  # all of it read while the job ran
    go.touch()
    assert running.get(timeout=30) is None and running.state == states.SUCCESS


@pytest.mark.parametrize("pool", POOLS)
def test_a_job_running_longer_than_its_lease_keeps_it_and_runs_once(app, db, ledger, tmp_path, worker_env,
                                                                    start_worker, pool):
    worker_env.update(LQ_LEASE="1.5", LQ_HEARTBEAT="0.3")
    for name in ("one@here", "two@here"):  # the one without the job would rescue it, were its lease let expire
        start_worker("-c", "1", "-n", name)
    go = tmp_path / "go"
    running = tasks.until_file.delay("job", str(go))
    wait_until(lambda: "job-start" in ledger_counts(ledger), what="the job to start")
    first = row(db, running.id)["lease_until"]
    wait_until(lambda: row(db, running.id)["lease_until"] > first + 3.0, what="the lease to be renewed twice over")
    go.touch()
    assert running.get(timeout=30) is None
    assert ledger_counts(ledger) == {"job-start": 1, "job": 1}


@pytest.mark.parametrize("pool", POOLS)
def test_a_hard_time_limit_is_recorded_alike_under_every_pool(app, db, ledger, run_burst, pool):
    per_task = tasks.hard_limited_task.delay("task")  # the task's own time_limit=0.5
    soft_first = tasks.outlives_soft_limit.apply_async(("call", 30), soft_time_limit=0.3, time_limit=1.0)
    run_burst("-c", "1")
    for result in (per_task, soft_first):
        stored = row(db, result.id)
        assert (stored["state"], stored["exc_type"], stored["result"]) == (
            states.FAILURE, "litequeue.errors.TimeLimitExceeded", None), stored
        with pytest.raises(TimeLimitExceeded):
            result.get(timeout=1)
    assert ledger_counts(ledger) == {"task-start": 1, "call-start": 1, "call-soft": 1}  # neither ran to its end


def test_an_in_process_solo_worker_says_once_what_it_cannot_stop(tmp_path, caplog):
    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "desk.sqlite")

    @app.task(bind=True, time_limit=30)
    def until_revoked(self):
        deadline = time.monotonic() + 30
        while not self.is_revoked() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "stopped"

    with caplog.at_level(logging.WARNING, logger="litequeue.worker"), app.worker(pool="solo"):
        for _ in range(2):
            running = until_revoked.delay()
            wait_until(lambda: running.state == states.STARTED, what="the job to start")  # noqa: B023
            app.control.revoke(running.id, terminate=True)
            wait_until(lambda: running.state == states.REVOKED, what="the job to end revoked")  # noqa: B023
    app.close()
    assert caplog.text.count("has a time limit, which -P solo cannot apply") == 1, caplog.text
    assert caplog.text.count("revoke with terminate cannot interrupt a -P solo job") == 1, caplog.text


def test_an_in_process_worker_with_threads_runs_tasks_of_an_app_made_in_a_function(tmp_path):
    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "desk.sqlite")  # not importable by a child: threads need no child

    @app.task
    async def greet(name):
        return f"hello {name}"

    @app.task
    def add(x, y):
        return x + y

    with app.worker(pool="threads", concurrency=4):
        assert greet.delay("you").get(timeout=10) == "hello you"
        assert add.delay(2, 3).get(timeout=10) == 5
    app.close()


def test_an_unknown_pool_is_refused_clearly(app, worker_env, db):
    done = run_cli("worker", db, "-A", "tests.support.tasks", "-P", "gevent", env=worker_env)
    assert done.returncode == 2 and "gevent" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(Exception, match="pool must be one of"):
        app.worker(pool="gevent")


def test_celery_dispatch_flags_are_accepted(app, run_burst):
    result = tasks.add.delay(1, 1)
    run_burst("-c", "1", "-O", "fair")
    assert result.get(timeout=1) == 2


def test_autoscale_grows_the_pool_under_backlog_and_shrinks_it_when_idle(app, worker_env, start_worker):
    worker_env["LQ_KEEPALIVE"] = "0.5"
    worker = start_worker("--autoscale", "3,1")
    worker.wait_for_log("ready")
    spans = [r.get(timeout=30) for r in [tasks.span.delay(1.0) for _ in range(3)]]
    starts = sorted(start for start, _ in spans)
    assert starts[-1] - starts[0] < 0.9  # the three ran side by side: the pool grew to three
    worker.wait_for_log("shrank to 2 pool processes", timeout=30)
    worker.wait_for_log("shrank to 1 pool processes", timeout=30)
    assert tasks.add.delay(2, 2).get(timeout=30) == 4


def test_autoscale_refuses_a_bad_range(app, worker_env, db):
    done = run_cli("worker", db, "-A", "tests.support.tasks", "--autoscale", "2,5", env=worker_env)
    assert done.returncode == 2 and "MAX,MIN" in done.stderr and "Traceback" not in done.stderr
