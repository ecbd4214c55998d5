"""Operating real workers: revoke (durable, and --terminate), progress read from another process,
and in-process workers whose pool children are spawned."""

from __future__ import annotations

import json
import multiprocessing
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from litequeue import states
from litequeue.errors import TaskRevokedError
from tests.conftest import ROOT, ledger_counts, litequeue_command


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(litequeue_command() + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_scheduled_job_revoked_while_no_worker_runs_never_runs(app, db, ledger, worker_env, run_burst):
    from tests.support.tasks import record

    doomed = record.apply_async(("doomed",), countdown=0.3)
    kept = record.apply_async(("kept",), countdown=0.3)
    revoked = run_cli("revoke", db, doomed.id, env=worker_env)
    assert revoked.returncode == 0, revoked.stderr
    assert f"{doomed.id}: revoked" in revoked.stdout
    wait_until(lambda: time.time() > kept.job.eta, what="the eta to pass")
    run_burst("-c", "1")
    assert ledger_counts(ledger) == {"kept": 1}
    assert doomed.state == states.REVOKED and kept.state == states.SUCCESS
    with pytest.raises(TaskRevokedError):
        doomed.get(timeout=1)


def test_revoke_terminate_stops_a_running_job_which_ends_revoked(app, db, ledger, worker_env, start_worker):
    from tests.support.tasks import add, slow_record

    worker = start_worker("-c", "1")
    running = slow_record.delay("long", 60)
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
    revoked = run_cli("revoke", db, running.id, "--terminate", env=worker_env)
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(TaskRevokedError):
        running.get(timeout=30)
    assert running.state == states.REVOKED
    assert "long" not in ledger_counts(ledger)
    assert add.delay(1, 1).get(timeout=30) == 2  # the worker carries on with a new child
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0


def test_progress_from_update_state_is_read_from_another_process(app, db, ledger, worker_env, start_worker):
    from tests.support.tasks import reports_progress

    worker = start_worker("-c", "1")
    result = reports_progress.delay("job", 10)
    wait_until(lambda: result.state == "PROGRESS", what="PROGRESS")
    assert result.info == {"done": 1, "total": 10}
    shown = run_cli("result", db, result.id, env=worker_env)
    assert "state:    PROGRESS" in shown.stdout and '"done": 1' in shown.stdout
    status = json.loads(run_cli("status", db, "--json", env=worker_env).stdout)
    assert [(j["id"], j["progress"]) for j in status["running"]] == [(result.id, {"done": 1, "total": 10})]
    active = json.loads(run_cli("inspect", db, "active", "--json", env=worker_env).stdout)
    assert {name: [j["id"] for j in jobs] for name, jobs in active.items()} == {
        f"worker-{worker.pid}@{socket.gethostname()}": [result.id]}
    Path(ledger, "job-go").touch()
    assert result.get(timeout=30) == 10
    assert result.state == states.SUCCESS
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0


def test_in_process_worker_with_spawned_children_runs_jobs_and_stops_cleanly(app, ledger):
    from tests.support.tasks import flaky, record, whoami

    with app.worker(concurrency=2, start_method="spawn") as worker:
        later = record.apply_async(("eta",), countdown=0.2)
        retried = flaky.delay("retried", 1)
        me = whoami.delay()
        assert later.get(timeout=30) is None and retried.get(timeout=30) == 1
        assert me.get(timeout=30)["hostname"] == worker.name
        assert worker.is_alive()
    assert not worker.is_alive()
    assert not multiprocessing.active_children()
    registered = {w.name: w for w in app.store.workers()}
    assert registered[worker.name].stopped_at is not None
    counts = ledger_counts(ledger)
    assert (counts["eta"], counts["retried"]) == (1, 2)  # the retry ran again in a child


def test_in_process_worker_start_and_stop_without_a_with_block(app):
    from tests.support.tasks import add

    worker = app.worker(concurrency=1, start_method="spawn")
    worker.start()
    try:
        assert add.delay(20, 22).get(timeout=30) == 42
    finally:
        worker.stop()
    assert not worker.is_alive()


def test_in_process_worker_refuses_an_app_spawned_children_cannot_import(tmp_path, worker_env):
    script = tmp_path / "guarded.py"
    script.write_text(
        "from litequeue import LiteQueue\n"
        "if __name__ == '__main__':\n"
        f"    app = LiteQueue({str(tmp_path / 'g.sqlite')!r})\n"
        "    try:\n"
        "        app.worker(start_method='spawn').start()\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, exc)\n"
        "    app.close()\n")
    done = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=tmp_path, env=worker_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ConfigurationError") and "if __name__ == '__main__'" in done.stdout
    assert done.stderr == ""
