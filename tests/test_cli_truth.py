"""The command line tells the truth: one JSON convention (ISO-8601 UTC, null, one object per line
when watching), status read from the store (a dead worker at once, counts without waiting for a
heartbeat), result --json, call's timing options and checks, revoke by task, queue or all,
colour that respects NO_COLOR, and a progress callback for migrate-store."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from litequeue import states
from litequeue.cli import main, output
from litequeue.store import Outcome, WorkerInfo, open_store
from litequeue.store.transfer import copy_store
from tests.conftest import ROOT, litequeue_command
from tests.support.tasks import app as _support_app  # noqa: E402

DEFAULT = _support_app.conf.task_default_queue  # the queue jobs sent without one go to

OWNER = "w1@here/abc"


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def is_iso_utc(value: str) -> bool:
    return dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(0)


def finish(app, job, state: str, **fields) -> None:
    assert app.store.finish(OWNER, [Outcome(job.id, job.attempts, state, **fields)])


def test_status_json_uses_iso_utc_times_and_null(app, db):
    from tests.support.tasks import add

    add.apply_async((1, 2), countdown=60)
    now = time.time()
    app.store.register_worker(WorkerInfo("w1@here", socket.gethostname(), os.getpid(), 1, "default", now, now, 0))
    data = json.loads(cli("status", db, "--json").output)
    assert is_iso_utc(data["time"])
    worker = data["workers"][0]
    assert is_iso_utc(worker["started_at"]) and is_iso_utc(worker["last_heartbeat"]) and worker["stopped_at"] is None


def test_a_worker_on_this_host_whose_process_is_gone_is_dead_at_once(app, db):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = time.time()
    app.store.register_worker(WorkerInfo("gone@here", socket.gethostname(), gone.pid, 1, "default", now, now, 0))
    data = json.loads(cli("status", db, "--json").output)
    assert [w["status"] for w in data["workers"]] == ["dead"]
    assert "DEAD" in cli("status", db).output


def test_a_killed_worker_whose_parent_has_not_reaped_it_yet_is_dead_at_once(app, db):
    """A SIGKILLed worker stays a zombie until its parent (a shell, a supervisor, a container's
    init) reaps it; it runs nothing, so it is dead, not running."""
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        killed.kill()
        deadline = time.monotonic() + 30
        while _proc_state(killed.pid) != "Z":
            assert time.monotonic() < deadline, "the killed process never became a zombie"
            time.sleep(0.02)
        now = time.time()
        app.store.register_worker(WorkerInfo("killed@here", socket.gethostname(), killed.pid, 1, "default", now,
                                             now, 0))
        data = json.loads(cli("status", db, "--json").output)
        assert [w["status"] for w in data["workers"]] == ["dead"]
    finally:
        killed.wait()


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_jobs_done_since_the_last_heartbeat_count_at_once(app, db):
    from tests.support.tasks import add

    for i in range(3):
        add.delay(i, i)
    now = time.time()
    app.store.register_worker(WorkerInfo("w1@here", socket.gethostname(), os.getpid(), 1, "default", now, now, 5))
    for job in app.store.claim(OWNER, [DEFAULT], (), 10, 60):
        finish(app, job, states.SUCCESS, result=b"1", result_type="application/json")
    data = json.loads(cli("status", db, "--json").output)
    assert data["workers"][0]["processed"] == 5 + 3  # the heartbeat's 5, and 3 finished after it


def test_status_watch_json_prints_one_object_per_line(app, db):
    from tests.support.tasks import add

    add.delay(1, 1)
    with subprocess.Popen(litequeue_command() + ["status", db, "--watch", "--json", "--interval", "0.1"],
                          stdout=subprocess.PIPE, text=True, cwd=ROOT) as proc:
        try:
            lines = [proc.stdout.readline() for _ in range(2)]
        finally:
            proc.kill()
    assert all(json.loads(line)["queues"][0]["queued"] == 1 for line in lines)


def test_result_json_shows_the_job_with_iso_times(app, db):
    from tests.support.tasks import add

    sent = add.delay(2, 3)
    [job] = app.store.claim(OWNER, [DEFAULT], (), 1, 60)
    finish(app, job, states.SUCCESS, result=b"5", result_type="application/json")
    data = json.loads(cli("result", db, sent.id, "--json").output)
    assert (data["id"], data["state"], data["result"], data["args"]) == (sent.id, "SUCCESS", 5, [2, 3])
    assert is_iso_utc(data["done_at"]) and data["exc_type"] is None
    assert [e["event"] for e in data["timeline"]] == ["sent", "started", "success"]


def test_call_takes_eta_countdown_and_expires(app, db):
    eta = "2031-05-01T10:00:00"  # no zone: UTC, as Celery reads a naive eta
    sent = cli("call", db, "tests.support.tasks.add", "--args", "[1, 2]", "--eta", eta,
               "--expires", "2031-06-01T00:00Z")
    assert sent.exit_code == 0, sent.output
    job = app.store.get(sent.output.strip())
    assert job.eta == dt.datetime(2031, 5, 1, 10, tzinfo=dt.UTC).timestamp()
    assert job.expires == dt.datetime(2031, 6, 1, tzinfo=dt.UTC).timestamp()
    later = cli("call", db, "tests.support.tasks.add", "--args", "[1, 2]", "--countdown", "60", "--expires", "120")
    job = app.store.get(later.output.strip())
    assert 50 < job.eta - time.time() <= 60 and 110 < job.expires - time.time() <= 120
    bad = cli("call", db, "tests.support.tasks.add", "--eta", "next tuesday")
    assert bad.exit_code != 0 and "ISO-8601" in bad.output


def test_call_wait_prints_the_result(app, db, start_worker):
    start_worker("-c", "1")
    done = cli("-A", "tests.support.tasks", "call", db, "tests.support.tasks.add", "--args", "[2, 3]", "--wait",
               "--timeout", "60")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[1] == "5"
    failed = cli("call", db, "tests.support.tasks.fail", "--args", '["nope"]', "--wait", "--timeout", "60")
    assert failed.exit_code == 1 and "ended FAILURE: ValueError: nope" in failed.output


def test_call_with_the_app_refuses_unknown_tasks_and_wrong_arguments(app, db):
    unknown = cli("-A", "tests.support.tasks", "call", db, "tests.support.tasks.ad", "--args", "[1, 2]")
    assert unknown.exit_code != 0 and "Did you mean tests.support.tasks.add?" in unknown.output
    arity = cli("-A", "tests.support.tasks", "call", db, "tests.support.tasks.add", "--args", "[1, 2, 3]")
    assert arity.exit_code != 0 and "cannot take" in arity.output
    assert app.store.count_jobs() == 0  # nothing was sent


@pytest.mark.parametrize("how, expected", [
    (["--all"], {"a1", "a2", "b1", "q1"}),
    (["--task", "tests.support.tasks.add"], {"a1", "a2", "q1"}),
    (["--queue", "other"], {"q1"}),
    (["--task", "tests.support.tasks.add", "--queue", DEFAULT], {"a1", "a2"}),
])
def test_revoke_by_task_queue_or_all(app, db, how, expected):
    from tests.support.tasks import add, echo

    add.apply_async((1, 1), task_id="a1")
    add.apply_async((1, 1), task_id="a2", countdown=600)
    echo.apply_async((1,), task_id="b1")
    add.apply_async((1, 1), task_id="q1", queue="other")
    result = cli("revoke", db, *how, "--force")
    assert result.exit_code == 0, result.output
    revoked = {i for i in ("a1", "a2", "b1", "q1") if app.store.get(i).state == states.REVOKED}
    assert revoked == expected
    assert f"Revoked {len(expected)} job(s)" in result.output


def test_revoke_asks_before_revoking_many_and_refuses_mixed_selection(app, db):
    from tests.support.tasks import add

    add.apply_async((1, 1), task_id="a1")
    assert cli("revoke", db, "--all", input="n\n").exit_code != 0
    assert app.store.get("a1").state == states.QUEUED
    mixed = cli("revoke", db, "a1", "--all")
    assert mixed.exit_code != 0 and "exactly" not in mixed.output and "--all" in mixed.output


def test_colour_on_a_terminal_unless_no_color(monkeypatch):
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(output.sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.paint("FAILURE") != "FAILURE" and "FAILURE" in output.paint("FAILURE")
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.paint("FAILURE") == "FAILURE"


def test_no_colour_when_piped(app, db):
    from tests.support.tasks import add

    sent = add.delay(1, 1)
    assert "\x1b[" not in cli("result", db, sent.id).output


def test_call_refuses_a_timeout_without_wait_and_seconds_as_an_eta_sending_nothing(app, db):
    no_wait = cli("call", db, "tests.support.tasks.add", "--args", "[1, 2]", "--timeout", "3")
    assert no_wait.exit_code == 2 and "add --wait" in no_wait.output
    seconds = cli("call", db, "tests.support.tasks.add", "--args", "[1, 2]", "--eta", "3600")
    assert seconds.exit_code == 2 and "--countdown" in seconds.output and "Traceback" not in seconds.output
    assert not os.path.exists(db) or app.store.count_jobs() == 0


def test_schedule_list_json_uses_iso_times_and_null(app, db):
    assert cli("schedule", db, "add", "nightly", "--task", "tests.support.tasks.add", "--every", "1h").exit_code == 0
    [entry] = json.loads(cli("schedule", db, "list", "--json").output)
    assert is_iso_utc(entry["next_fire"]) and entry["last_fire"] is None


def test_migrate_store_reports_progress_per_batch(app, db, tmp_path):
    from tests.support.tasks import add

    app.enqueue_many([(add, (i, i)) for i in range(1200)])
    source, target = app.store, open_store(str(tmp_path / "copy.sqlite"), app.conf)
    seen: list[tuple[str, int]] = []
    try:
        copy_store(source, target, lambda table, n: seen.append((table, n)))
    finally:
        target.close()
    assert [n for table, n in seen if table == "lq_jobs"] == [500, 500, 200]


def test_queues_pause_and_resume_from_the_command_line(app, db):
    from tests.support.tasks import add

    add.delay(1, 1)
    paused = cli("queues", db, "--pause", DEFAULT, "--json")
    assert paused.exit_code == 0, paused.output
    assert app.store.paused_queues() == {DEFAULT}
    assert app.store.claim(OWNER, [DEFAULT], (), 10, 60) == []
    listed = cli("queues", db)
    assert "PAUSED" in listed.output
    cli("queues", db, "--resume", DEFAULT)
    assert app.store.paused_queues() == set()
    assert len(app.store.claim(OWNER, [DEFAULT], (), 10, 60)) == 1
