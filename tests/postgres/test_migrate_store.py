"""``litequeue migrate-store SRC DST``: moving up from SQLite to PostgreSQL and back without
losing work -- waiting, scheduled and failed jobs, results, and schedule entries."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from litequeue import LiteQueue, states
from litequeue.store.schedules import ScheduleRow
from tests.conftest import ROOT, ledger_counts, litequeue_command
from tests.support import tasks


def migrate(src: str, dst: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(litequeue_command() + ["migrate-store", src, dst], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def entry(now: float) -> ScheduleRow:
    message = json.dumps({"args": [1, 2], "kwargs": {}, "options": {}}).encode()
    return ScheduleRow(name="every-minute", task="tests.support.tasks.add", schedule='{"every": 60.0}',
                       message=message, misfire="run_once", misfire_grace=30.0, misfire_limit=1, timezone="UTC",
                       origin="runtime", start_at=now, next_fire=now + 60, runs=3, last_fire=now - 60)


@pytest.fixture
def work(app, run_burst, ledger):
    """A store holding one of everything: a result, a failure, a waiting and a scheduled job, a schedule."""
    done = tasks.add.delay(2, 3)
    failed = tasks.fail.delay("broken")
    run_burst("-c", "1")
    waiting = tasks.record.delay("after-the-move")
    later = tasks.add.apply_async((5, 5), countdown=3600)
    app.store.put_schedule(entry(time.time()))
    return {"done": done.id, "failed": failed.id, "waiting": waiting.id, "later": later.id}


def check_moved(url: str, ids: dict) -> None:
    target = LiteQueue(url)
    try:
        assert target.AsyncResult(ids["done"]).get(timeout=1) == 5
        with pytest.raises(ValueError, match="broken"):
            target.AsyncResult(ids["failed"]).get(timeout=1)
        assert target.AsyncResult(ids["failed"]).traceback
        assert target.AsyncResult(ids["waiting"]).job_state == states.QUEUED
        later = target.AsyncResult(ids["later"]).job
        assert later.state == states.QUEUED and later.eta > time.time() + 3000
        assert target.store.count_jobs() == 4
        [schedule] = target.store.schedules()
        assert (schedule.name, schedule.runs) == ("every-minute", 3)
    finally:
        target.close()


def test_sqlite_to_postgresql_and_back_keeps_every_job_result_and_schedule(
        app, work, tmp_path, pg_url, worker_env, start_worker, ledger):
    sqlite_path = app.url
    app.close()
    moved = migrate(sqlite_path, pg_url, worker_env)
    assert moved.returncode == 0, moved.stderr
    assert "Copied" in moved.stdout and "4 jobs" in moved.stdout and "1 schedules" in moved.stdout
    check_moved(pg_url, work)

    back = str(tmp_path / "back.sqlite")
    moved_back = migrate(pg_url, back, worker_env)
    assert moved_back.returncode == 0, moved_back.stderr
    check_moved(back, work)

    worker = start_worker("--burst", "-c", "1", database=pg_url)  # the waiting job runs on the new store, once
    assert worker.wait() == 0, worker.output()
    assert ledger_counts(ledger) == {"after-the-move": 1}
    app.url = pg_url
    assert app.AsyncResult(work["waiting"]).state == states.SUCCESS


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "old.sqlite")


def test_migrating_into_a_store_that_already_holds_the_jobs_copies_nothing(app, work, pg_url, worker_env):
    assert migrate(app.url, pg_url, worker_env).returncode == 0
    again = migrate(app.url, pg_url, worker_env)
    assert again.returncode == 1
    assert "already holds" in again.stderr and "Traceback" not in again.stderr
    target = LiteQueue(pg_url)
    assert target.store.count_jobs() == 4
    target.close()


def test_migrating_a_store_with_running_jobs_is_refused(app, pg_url, worker_env):
    tasks.add.delay(1, 1)
    app.store.claim("someone", None, (), 1, 60)
    refused = migrate(app.url, pg_url, worker_env)
    assert refused.returncode == 1
    assert "1 running job(s)" in refused.stderr and "Stop its workers" in refused.stderr
