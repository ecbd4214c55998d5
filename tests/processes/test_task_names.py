"""A job's task name is a request, not an instruction: only registered tasks run (issue 21, item 1).

Each test writes what an attacker with write access to the store would write, runs a real worker,
and checks that nothing but registered litequeue tasks ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from litequeue import LiteQueue, states
from tests.conftest import ledger_counts
from tests.processes.test_core import run_cli
from tests.support import tasks

ATTACKS = [
    ("os.system", lambda proof: [f"touch {proof}"]),
    ("subprocess.call", lambda proof: [["touch", proof]]),
    ("builtins.exec", lambda proof: [f"open({proof!r}, 'w').close()"]),
    ("pathlib.Path.touch", lambda proof: [proof]),
]


@pytest.mark.parametrize("name,args", ATTACKS, ids=[name for name, _ in ATTACKS])
def test_a_worker_with_an_app_never_runs_a_function_named_by_a_job(app, run_burst, tmp_path, name, args):
    proof = str(tmp_path / "pwned")
    attack = app.send_task(name, args=args(proof))
    after = tasks.add.delay(20, 22)
    run_burst("-c", "1")
    assert not Path(proof).exists()
    assert attack.state == states.FAILURE and attack.job.exc_type == "litequeue.errors.NotRegistered"
    assert name in attack.job.exc_message and "-A" in attack.job.exc_message
    assert after.get(timeout=10) == 42  # the worker carries on


def test_a_plain_function_in_the_apps_own_module_does_not_run_either(app, run_burst, ledger):
    job = app.send_task("tests.support.tasks.plain_function", args=[6, 7])
    run_burst("-c", "1")
    assert job.state == states.FAILURE and ledger_counts(ledger) == {}


def test_a_chunk_job_runs_only_registered_tasks(app, run_burst, tmp_path):
    proof = str(tmp_path / "pwned")
    attack = app.send_task("litequeue.chunk", args=["os.system", [[f"touch {proof}"]]])
    fine = app.send_task("litequeue.chunk", args=["tests.support.tasks.add", [[1, 2], [3, 4]]])
    run_burst("-c", "1")
    assert not Path(proof).exists()
    assert attack.state == states.FAILURE and "os.system" in attack.job.exc_message
    assert fine.get(timeout=10) == [3, 7]


def test_a_worker_without_an_app_refuses_to_start_and_names_both_fixes(db, worker_env):
    LiteQueue(db).close()
    proc = run_cli("worker", db, "--burst", env=worker_env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "-A" in proc.stderr and "--import-tasks-by-name" in proc.stderr


@pytest.mark.parametrize("name,args", ATTACKS, ids=[name for name, _ in ATTACKS])
def test_importing_by_name_still_refuses_builtins_and_the_standard_library(db, worker_env, tmp_path, name, args):
    proof = str(tmp_path / "pwned")
    producer = LiteQueue(db)
    try:
        attack = producer.send_task(name, args=args(proof))
        proc = run_cli("worker", db, "--burst", "-c", "1", "--import-tasks-by-name", env=worker_env)
        assert proc.returncode == 0, proc.stderr
        assert not Path(proof).exists()
        assert attack.state == states.FAILURE and "standard library" in attack.job.exc_message
    finally:
        producer.close()


def test_the_setting_opts_in_like_the_flag(app, db, ledger):
    from litequeue.errors import NotRegistered
    from litequeue.worker.registry import resolve_task

    other = LiteQueue(db)
    try:
        with pytest.raises(NotRegistered, match="not registered"):
            resolve_task(other, "tests.support.tasks.add")
        other.conf.worker_import_tasks_by_name = True
        assert resolve_task(other, "tests.support.tasks.add") is tasks.add
        with pytest.raises(NotRegistered, match="not a litequeue task"):
            resolve_task(other, "tests.support.tasks.ledger_write")
        with pytest.raises(NotRegistered, match="importing 'no_such_module' failed"):
            resolve_task(other, "no_such_module.task")
    finally:
        other.close()
