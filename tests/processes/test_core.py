"""The core end to end: real ``litequeue worker`` subprocesses over a real SQLite file.

Assertions are on what the store holds and on the ledger (one file per execution), never on
how long something took.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import time

import pytest

from litequeue import AsyncResult, TaskRevokedError, states
from litequeue.errors import ContentDisallowed, LiteQueueError
from litequeue.errors import TimeoutError as LQTimeoutError
from tests.conftest import POOLS, ROOT, integrity_ok, ledger_counts, litequeue_command
from tests.support import tasks


@pytest.fixture(params=POOLS)
def pool(request: pytest.FixtureRequest) -> str:
    """Every test here runs under each pool (-P prefork, threads, solo)."""
    return request.param

LATE_OK = 3.0  # a due job must start within this many seconds (generous: the machine is busy)


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(litequeue_command() + list(args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- the round trip ---------------------------------------------------------------------------------


def test_delay_then_get_returns_the_result_from_a_running_worker(app, start_worker):
    worker = start_worker("-c", "2")
    worker.wait_for_log("ready")
    result = tasks.add.delay(2, 3)
    assert result.get(timeout=30) == 5
    job = result.job
    assert job.state == states.SUCCESS and job.attempts == 1
    worker.wait_for_log(f"Task tests.support.tasks.add[{result.id}] succeeded in")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_send_task_by_name_runs_the_registered_task(app, run_burst):
    result = app.send_task("tests.support.tasks.add", args=[2, 3])
    run_burst("-c", "1")
    assert result.get(timeout=10) == 5


def test_a_worker_without_an_app_imports_tasks_by_name_only_when_asked(app, db, worker_env, ledger):
    from litequeue import LiteQueue

    producer = LiteQueue(db)  # knows no tasks: it sends by name only
    try:
        as_task = producer.send_task("tests.support.tasks.add", args=[2, 3])
        as_function = producer.send_task("tests.support.tasks.plain_function", args=[6, 7])
        proc = run_cli("worker", db, "--burst", "-c", "1", "-l", "info", "--import-tasks-by-name", env=worker_env)
        assert proc.returncode == 0, proc.stderr
        assert as_task.get(timeout=10) == 5
        assert as_function.state == states.FAILURE  # a plain function is not a task: never run
        assert "not a litequeue task" in as_function.job.exc_message
        assert ledger_counts(ledger) == {}
    finally:
        producer.close()


def test_bound_task_sees_its_request(app, run_burst):
    result = tasks.whoami.apply_async(queue="special")
    run_burst("-Q", "special", "-n", "w1@box")
    info = result.get(timeout=10)
    assert info == {"id": result.id, "retries": 0, "queue": "special", "hostname": "w1@box"}


def test_arguments_and_results_round_trip_through_a_worker(app, run_burst):
    value = {"when": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC), "day": dt.date(2024, 1, 1),
             "blob": b"\x00\x01", "pair": (1, (2, 3)), 7: {1, 2}, "__lq__": "kept"}
    result = tasks.echo.delay(value)
    run_burst("-c", "1")
    assert result.get(timeout=10) == value


def test_an_idle_worker_is_woken_by_a_new_job_without_polling(app, start_worker, worker_env):
    # Poll and heartbeat timers far beyond the get() timeout: only a wake-up can start the job.
    worker_env.update(LQ_POLL="300", LQ_HEARTBEAT="300", LQ_LEASE="600")
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    time.sleep(0.3)  # let the worker settle into its idle wait
    result = tasks.add.delay(4, 5)
    assert result.get(timeout=20) == 9
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()


# -- when jobs run ----------------------------------------------------------------------------------


def test_countdown_job_does_not_run_before_its_time_and_runs_soon_after(app, start_worker, ledger):
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    result = tasks.record.apply_async(("later",), countdown=1.0)
    assert result.get(timeout=30) is None
    job = result.job
    assert job.eta is not None
    assert job.eta <= job.started_at <= job.eta + LATE_OK
    assert ledger_counts(ledger) == {"later": 1}


@pytest.fixture
def machine_behind_utc(monkeypatch):
    """Local time five hours behind UTC: a naive eta read as local time would run 5 h late."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_eta_job_runs_at_its_eta_naive_is_utc(app, start_worker, machine_behind_utc):
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    naive = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
    aware = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.2)
    by_naive = tasks.add.apply_async((1, 1), eta=naive)
    by_aware = tasks.add.apply_async((2, 2), eta=aware)
    assert by_naive.get(timeout=30) == 2 and by_aware.get(timeout=30) == 4
    for result, eta in ((by_naive, naive.replace(tzinfo=dt.UTC).timestamp()), (by_aware, aware.timestamp())):
        job = result.job
        assert job.eta == pytest.approx(eta, abs=1e-3)
        assert eta <= job.started_at <= eta + LATE_OK


def test_burst_worker_leaves_future_jobs_queued(app, run_burst, ledger):
    later = tasks.record.apply_async(("future",), countdown=300)
    now = tasks.record.delay("now")
    run_burst("-c", "1")
    assert now.state == states.SUCCESS
    assert later.job_state == states.SCHEDULED and later.job.started_at is None
    assert ledger_counts(ledger) == {"now": 1}


def test_expired_job_is_revoked_and_never_runs(app, run_burst, ledger):
    past = tasks.record.apply_async(("expired-past",), expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    zero = tasks.record.apply_async(("expired-now",), expires=0)
    fresh = tasks.record.apply_async(("fresh",), expires=300)
    run_burst("-c", "1")
    assert past.state == states.REVOKED and zero.state == states.REVOKED
    assert fresh.state == states.SUCCESS
    assert ledger_counts(ledger) == {"fresh": 1}
    with pytest.raises(TaskRevokedError, match="expired"):
        past.get(timeout=5)


def test_job_that_expires_while_waiting_for_its_eta_never_runs(app, start_worker, ledger):
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    result = tasks.record.apply_async(("too-late",), countdown=1.0, expires=0.5)
    assert result.get(timeout=30, propagate=False) is None
    assert result.state == states.REVOKED
    assert ledger_counts(ledger) == {}


def test_higher_priority_runs_first_within_a_queue(app, run_burst):
    sent = [("low", 0), ("mid-1", 5), ("high", 9), ("mid-2", 5), ("negative", -2), ("low-2", 0)]
    results = {name: tasks.record_time.apply_async((name,), priority=p) for name, p in sent}
    run_burst("-c", "1")
    ran_at = {name: result.get(timeout=5) for name, result in results.items()}
    started = sorted(ran_at, key=ran_at.get)
    assert started == ["high", "mid-1", "mid-2", "low", "low-2", "negative"]


# -- failures -------------------------------------------------------------------------------------


def test_failing_task_ends_in_failure_with_type_message_and_traceback(app, run_burst):
    result = tasks.fail.delay("kaboom")
    run_burst("-c", "1")
    assert result.state == states.FAILURE
    assert result.failed() and result.ready() and not result.successful()
    job = result.job
    assert (job.exc_type, job.exc_message) == ("ValueError", "kaboom")
    assert "ValueError: kaboom" in result.traceback
    assert 'in fail' in result.traceback and "raise ValueError(message)" in result.traceback
    with pytest.raises(ValueError, match="kaboom") as info:
        result.get(timeout=5)
    assert any("ValueError: kaboom" in note for note in info.value.__notes__)
    returned = result.get(timeout=5, propagate=False)
    assert isinstance(returned, ValueError) and str(returned) == "kaboom"
    assert isinstance(result.result, ValueError)


def test_get_reraises_the_users_own_exception_class(app, run_burst):
    result = tasks.fail_custom.delay("custom")
    run_burst("-c", "1")
    with pytest.raises(tasks.TaskBoom, match="custom"):
        result.get(timeout=5)
    assert result.job.exc_type == "tests.support.tasks.TaskBoom"


def test_unknown_task_fails_clearly_and_the_worker_carries_on(app, run_burst):
    unknown = app.send_task("no.such.module.task", args=[1])
    after = tasks.add.delay(20, 22)
    run_burst("-c", "1")
    assert unknown.state == states.FAILURE
    assert "no.such.module.task" in unknown.job.exc_message
    assert "-A" in unknown.job.exc_message  # the fix is named
    with pytest.raises(LiteQueueError, match="unknown task 'no.such.module.task'"):
        unknown.get(timeout=5)
    assert after.get(timeout=5) == 42


def test_pickled_job_is_refused_by_a_worker_that_does_not_accept_pickle(app, run_burst, tmp_path):
    trap = tmp_path / "unpickled"
    result = tasks.echo.apply_async((_Trap(str(trap)),), serializer="pickle")
    run_burst("-c", "1")
    assert result.state == states.FAILURE
    assert result.job.exc_type == "litequeue.errors.ContentDisallowed"
    with pytest.raises(ContentDisallowed):
        result.get(timeout=5)
    assert not trap.exists()  # never unpickled


def test_pickled_job_runs_on_a_worker_that_accepts_pickle(app, start_worker, worker_env, tmp_path):
    worker_env["LQ_ACCEPT"] = "json,pickle"
    result = tasks.echo.apply_async(({"set": frozenset({1})},), serializer="pickle")
    worker = start_worker("--burst", "-c", "1")
    assert worker.wait(60) == 0, worker.output()
    assert result.get(timeout=5) == {"set": frozenset({1})}


class _Trap:
    """Creates a file when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    open(path, "w").close()


# -- results ----------------------------------------------------------------------------------------


def test_result_states_and_date_done(app, run_burst):
    result = tasks.add.delay(1, 2)
    assert AsyncResult("never-sent", app=app).state == states.PENDING
    assert (result.state, result.status, result.ready()) == (states.PENDING, states.PENDING, False)  # Celery's
    assert result.job_state == states.QUEUED  # litequeue's finer state
    assert result.date_done is None
    before = dt.datetime.now(dt.UTC)
    run_burst("-c", "1")
    assert (result.state, result.ready(), result.successful(), result.failed()) == (states.SUCCESS, True, True, False)
    assert result.result == 3
    assert result.date_done.tzinfo is not None
    assert before - dt.timedelta(seconds=1) <= result.date_done <= dt.datetime.now(dt.UTC)


def test_ignore_result_stores_no_value(app, run_burst, ledger):
    result = tasks.record.apply_async(("ignored", "a value"), ignore_result=True)
    kept = tasks.record.apply_async(("kept", "a value"))
    run_burst("-c", "1")
    assert result.state == states.SUCCESS and result.job.result is None and result.get(timeout=5) is None
    assert kept.get(timeout=5) == "a value"
    assert ledger_counts(ledger) == {"ignored": 1, "kept": 1}


def test_forget_deletes_the_result(app, run_burst):
    result = tasks.add.delay(1, 2)
    run_burst("-c", "1")
    assert result.get(timeout=5) == 3
    result.forget()
    assert result.state == states.PENDING and result.job is None


def test_get_with_a_timeout_raises_timeout_error(app):
    result = tasks.add.delay(1, 2)  # no worker is running
    with pytest.raises(LQTimeoutError, match="still QUEUED") as info:
        result.get(timeout=0.2)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, LiteQueueError)


def test_get_on_a_revoked_job_raises_task_revoked_error(app, run_burst, ledger):
    result = tasks.record.delay("revoked")
    result.revoke()
    run_burst("-c", "1")
    assert result.state == states.REVOKED
    with pytest.raises(TaskRevokedError):
        result.get(timeout=5)
    assert result.get(timeout=5, propagate=False) is None
    assert ledger_counts(ledger) == {}


def test_worker_prunes_results_older_than_result_expires(app, start_worker, worker_env, db):
    old = [tasks.add.delay(i, i) for i in range(3)]
    start_worker("--burst", "-c", "1").wait(60)
    assert all(r.state == states.SUCCESS for r in old)
    waiting = tasks.add.apply_async((0, 0), countdown=300)
    time.sleep(0.3)  # let the finished jobs age past the tiny expiry below
    worker_env["LQ_RESULT_EXPIRES"] = "0.2"
    pruner = start_worker("--burst", "-c", "1")
    assert pruner.wait(60) == 0, pruner.output()
    assert [r.job_state for r in old] == [states.PENDING] * 3
    assert waiting.job_state == states.SCHEDULED


# -- many producers, several workers -----------------------------------------------------------------

PRODUCERS = 4
JOBS_EACH = 2000


def _produce(db: str, ledger: str, producer: int) -> None:
    os.environ["LQ_LEDGER"] = ledger
    tasks.app.url = db
    try:
        for n in range(JOBS_EACH):
            tasks.record.delay(f"p{producer}-{n}")
    finally:
        tasks.app.close()


def test_many_producers_and_two_workers_run_every_job_exactly_once(app, db, ledger, start_worker, worker_env, capfd,
                                                                  pool):
    # A real-world lease: the test app's 3 s lease is shorter than the heartbeat interval plus the
    # busy timeout (a write may wait that long for the lock under load; the worker warns about it),
    # and an expired lease rightly means "run it again".
    worker_env["LQ_LEASE"] = "60"
    app.store  # noqa: B018 - create the file before the workers start
    concurrency = () if pool == "solo" else ("-c", "2")  # (solo warns that it ignores -c)
    workers = [start_worker(*concurrency, "-n", f"w{i}") for i in range(2)]
    for w in workers:
        w.wait_for_log("ready")
    ctx = multiprocessing.get_context("fork")
    producers = [ctx.Process(target=_produce, args=(db, str(ledger), i)) for i in range(PRODUCERS)]
    for p in producers:
        p.start()
    for p in producers:
        p.join(90)
        assert p.exitcode == 0
    total = PRODUCERS * JOBS_EACH

    def all_done() -> bool:
        return app.store.counts().get(("celery", states.SUCCESS), 0) == total

    wait_until(all_done, timeout=90, what=f"{total} jobs to succeed: {app.store.counts()}")
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(30) == 0, w.output()
    counts = ledger_counts(ledger)
    assert len(counts) == total and set(counts.values()) == {1}
    assert app.store.counts() == {("celery", states.SUCCESS): total}
    logs = [w.output() for w in workers] + list(capfd.readouterr())  # the workers' and the producers'
    for log in logs:
        for bad in ("locked", "busy", "Traceback", "ERROR", "WARNING"):
            assert bad not in log, log[-3000:]
    assert integrity_ok(db)


# -- shutdown and crashes --------------------------------------------------------------------------


def test_sigterm_during_a_long_job_lets_it_finish_and_exits_zero(app, start_worker, ledger):
    result = tasks.slow_record.delay("long", 1.5)
    worker = start_worker("-c", "1")
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    assert ledger_counts(ledger) == {"long-start": 1, "long": 1}
    assert result.state == states.SUCCESS and result.get(timeout=5) == 1.5
    assert "Warm shutdown" in worker.output()


def test_sigkill_of_the_whole_worker_then_restart_runs_the_job_again(app, start_worker, ledger, db):
    result = tasks.slow_record.delay("killed", 2)
    worker = start_worker("-c", "1")
    wait_until(lambda: "killed-start" in ledger_counts(ledger), what="the job to start")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(30)
    assert result.job.state in states.LEASED_STATES  # its lease (3 s) still stands
    assert ledger_counts(ledger) == {"killed-start": 1}
    restarted = start_worker("-c", "1")
    assert result.get(timeout=60) == 2
    job = result.job
    assert job.state == states.SUCCESS and job.attempts == 2
    assert ledger_counts(ledger) == {"killed-start": 2, "killed": 1}
    restarted.signal(signal.SIGTERM)
    assert restarted.wait(30) == 0
    assert integrity_ok(db)


# -- the command line -----------------------------------------------------------------------------


def test_version_prints_the_version():
    import litequeue

    proc = run_cli("--version")
    assert proc.returncode == 0
    assert litequeue.__version__ in proc.stdout


def test_celery_style_options_work_and_the_app_names_the_database(app, worker_env, db):
    result = tasks.add.delay(20, 22)
    proc = run_cli("-A", "tests.support.tasks", "worker", "--loglevel=info", "--concurrency", "1", "--burst",
                   env=worker_env)
    assert proc.returncode == 0, proc.stderr
    assert result.get(timeout=5) == 42
    assert f"Task tests.support.tasks.add[{result.id}] received" in proc.stderr
    assert f"Task tests.support.tasks.add[{result.id}] succeeded in" in proc.stderr
    assert proc.stderr.rstrip().endswith("stopped.")


def test_worker_without_a_database_or_app_is_a_one_line_usage_error(tmp_path):
    proc = subprocess.run(litequeue_command() + ["worker", "--burst"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "database path" in errors[0]


def test_worker_on_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path, worker_env):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some notes\n" * 10)
    proc = run_cli("worker", str(path), "-A", "tests.support.tasks", "--burst", env=worker_env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error:") and "not an SQLite database" in proc.stderr
    assert path.read_bytes() == b"just some notes\n" * 10


def test_worker_on_a_missing_directory_is_a_one_line_error(tmp_path, worker_env):
    proc = run_cli("worker", str(tmp_path / "nope" / "db.sqlite"), "-A", "tests.support.tasks", "--burst",
                   env=worker_env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "does not exist" in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_started_at_is_when_the_job_ran_not_when_it_was_prefetched(app, run_burst):
    from tests.support.tasks import slow_record

    first, second = slow_record.delay("first", 0.3), slow_record.delay("second", 0.3)
    run_burst("-c", "1")  # one child: the second job waits, claimed, while the first runs
    a, b = first.job, second.job
    assert a.state == b.state == "SUCCESS"
    assert b.started_at >= a.done_at - 0.01
