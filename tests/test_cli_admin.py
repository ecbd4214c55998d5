"""The operating commands (status, inspect, result, revoke, purge, prune, call) against a store
whose contents the test sets up through the store's own operations."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time

import pytest
from click.testing import CliRunner

from litequeue import states
from litequeue.cli import main
from litequeue.errors import InvalidOptionError
from litequeue.store import ClaimRequest, Outcome, WorkerInfo, describe_url

OWNER = "tester@host/1"


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def one_line_error(result) -> str:
    """The single 'Error: ...' line of a failed command (and no traceback)."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def claim_all(app, queue: str) -> list:
    return app.store.claim(OWNER, [queue], (), 100, 60)


def finish(app, job, state: str, **fields) -> None:
    applied = app.store.finish(OWNER, [Outcome(job.id, job.attempts, state, **fields)])
    assert applied


@pytest.fixture
def known_store(app, db):
    """default: 2 due, 1 scheduled; busy: 1 running (with progress), 1 failed, 1 succeeded,
    1 retrying; workers: one alive, one lost, one stopped just now, one stopped long ago."""
    from tests.support.tasks import add

    add.delay(1, 1)
    add.delay(2, 2)
    add.apply_async((3, 3), countdown=3600)
    for n in range(4):
        add.apply_async((n, 0), queue="busy", task_id=f"busy-{n}")
    running, failed, succeeded, retrying = claim_all(app, "busy")
    app.store.finish_and_claim(OWNER, [], ClaimRequest(None, (), 0, 0.0), [(running.id, running.attempts, time.time())])
    finish(app, failed, states.FAILURE, exc_type="ValueError", exc_message="boom")
    finish(app, succeeded, states.SUCCESS, result=b"1", result_type="application/json")
    finish(app, retrying, states.RETRY, retry_at=time.time() + 3600, exc_type="OSError", exc_message="later")
    app.update_state(running.task_id, "PROGRESS", {"done": 40, "total": 100})
    now = time.time()
    host = socket.gethostname()
    for name, beat, stopped in (("alive@h", now, None), ("lost@h", now - 1000, None),
                                ("stopped@h", now - 5, now - 5), ("gone@h", now - 9000, now - 9000)):
        # the pid of this test: a worker on this host whose process is gone would show as dead
        app.store.register_worker(WorkerInfo(name, host, os.getpid(), 2, "celery,busy", now - 9000, beat, 7, stopped))
    return {"running": running.task_id}


def test_status_json_reports_each_queue_and_worker_as_the_store_holds_them(known_store, db):
    result = cli("status", db, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    queues = {q["queue"]: q for q in data["queues"]}
    assert {k: queues["celery"][k] for k in ("queued", "scheduled", "running", "retrying", "failed")} == {
        "queued": 2, "scheduled": 1, "running": 0, "retrying": 0, "failed": 0}
    assert queues["celery"]["oldest_waiting_seconds"] >= 0
    busy = queues["busy"]
    counted = (busy["queued"], busy["running"], busy["retrying"], busy["failed"], busy["done_last_hour"])
    assert counted == (0, 1, 1, 1, 2)
    assert busy["oldest_waiting_seconds"] is None
    workers = {w["name"]: w for w in data["workers"]}
    assert {name: w["status"] for name, w in workers.items()} == {
        "alive@h": "running", "lost@h": "lost", "stopped@h": "stopped"}
    alive = workers["alive@h"]
    assert (alive["pid"], alive["concurrency"], alive["processed"]) == (os.getpid(), 2, 7)
    assert alive["queues"] == ["celery", "busy"]
    assert [(j["id"], j["state"], j["progress"]) for j in data["running"]] == [
        (known_store["running"], "PROGRESS", {"done": 40, "total": 100})]


def test_status_table_shows_lost_workers_and_progress(known_store, db):
    result = cli("status", db)
    assert result.exit_code == 0, result.output
    assert "LOST" in result.output and "stopped" in result.output
    assert "PROGRESS" in result.output and '"done": 40' in result.output


def test_result_shows_a_running_jobs_progress(known_store, db):
    result = cli("result", db, known_store["running"])
    assert result.exit_code == 0, result.output
    assert "state:    PROGRESS" in result.output and '{"done": 40, "total": 100}' in result.output


def test_inspect_answers_celerys_questions(known_store, db):
    active = json.loads(cli("inspect", db, "active", "--json").output)
    assert [j["id"] for j in active["tester@host"]] == [known_store["running"]]
    scheduled = json.loads(cli("inspect", db, "scheduled", "--json").output)
    assert list(scheduled) == ["alive@h"]  # Celery's shape: per live worker (it consumes both queues)
    assert sorted(j["request"]["args"][0] for j in scheduled["alive@h"]) == [3, 3]  # countdown job, waiting retry
    stats = json.loads(cli("inspect", db, "stats", "--json").output)
    assert set(stats) == {"alive@h"}  # a lost worker does not answer, as in Celery
    assert stats["alive@h"]["pool"] == {"max-concurrency": 2}
    assert json.loads(cli("inspect", db, "ping", "--json").output) == {"alive@h": {"ok": "pong"}}
    registered = cli("-A", "tests.support.tasks", "inspect", db, "registered", "--json")
    assert "tests.support.tasks.add" in json.loads(registered.output)["alive@h"]
    assert "give it with -A" in one_line_error(cli("inspect", db, "registered"))


def test_revoke_reports_each_job_and_refuses_unknown_ids(known_store, app, db):
    from tests.support.tasks import add

    waiting = add.delay(5, 5)
    result = cli("revoke", db, waiting.id, known_store["running"])
    assert result.exit_code == 0, result.output
    assert f"{waiting.id}: revoked" in result.output and "--terminate" in result.output
    assert waiting.state == states.REVOKED
    assert app.store.get(known_store["running"]).state == states.STARTED
    other = add.delay(6, 6)
    assert "no-such-id" in one_line_error(cli("revoke", db, other.id, "no-such-id"))
    assert other.job_state == states.QUEUED  # nothing was revoked


def test_revoke_of_a_replaced_job_says_its_replacements_last_job_will_not_run(app, db, run_burst):
    from tests.support import canvas_tasks as ct

    replaced = ct.replaced_by.delay(5, "chain from later")
    run_burst("-Q", "celery", "-c", "1")  # its replacement's first step waits in queue "later"
    result = cli("revoke", db, replaced.id)
    assert result.exit_code == 0, result.output
    assert f"{replaced.id}: replaced (self.replace); its replacement's last job" in result.output
    run_burst("-Q", "later,celery", "-c", "1")
    assert replaced.state == states.REVOKED


def test_revoke_terminate_warns_about_the_signal_only_when_one_other_than_sigkill_was_asked_for(app, db, caplog):
    from tests.support.tasks import add

    def warned() -> list[str]:
        said = [r.getMessage() for r in caplog.records if "SIGKILL" in r.getMessage()]
        caplog.clear()
        return said

    app.control.revoke(add.delay(1, 1).id, terminate=True)
    add.delay(2, 2).revoke(terminate=True)
    assert cli("revoke", db, add.delay(3, 3).id, "--terminate").exit_code == 0
    assert cli("control", "terminate", db, add.delay(4, 4).id).exit_code == 0
    app.control.revoke(add.delay(5, 5).id, terminate=True, signal="SIGKILL")
    assert warned() == []
    app.control.revoke(add.delay(6, 6).id, terminate=True, signal="SIGTERM")  # Celery's default, accepted
    assert cli("control", "terminate", db, add.delay(7, 7).id, "--signal", "SIGUSR1").exit_code == 0
    assert [("signal=SIGTERM" in w, "signal=SIGUSR1" in w) for w in warned()] == [(True, False), (False, True)]
    with pytest.raises(InvalidOptionError, match="names no signal"):
        app.control.revoke(add.delay(8, 8).id, terminate=True, signal="SIGNOPE")


def test_revoke_with_a_destination_warns_that_a_stored_revoke_reaches_every_worker(app, db, caplog):
    from tests.support.tasks import add

    def warned() -> list[str]:
        said = [r.getMessage() for r in caplog.records if "destination" in r.getMessage()]
        caplog.clear()
        return said

    first, second = add.delay(1, 1), add.delay(2, 2)
    assert app.control.revoke(first.id, destination=["w1@here"]) == 1
    assert first.job_state == states.REVOKED  # revoked all the same
    (said,) = warned()
    assert f"revoke({first.id}, destination=['w1@here']): destination has no effect" in said
    assert "every worker on every host" in said and "Leave destination out" in said
    assert cli("control", "terminate", db, second.id, "-d", "w1@here").exit_code == 0
    assert len(warned()) == 1 and second.job_state == states.REVOKED
    app.control.revoke(add.delay(3, 3).id)
    assert warned() == []


def test_purge_asks_first_and_deletes_only_waiting_jobs(known_store, app, db):
    assert cli("purge", db, input="n\n").exit_code != 0
    assert app.store.count_jobs(states.WAITING_STATES) == 4
    result = cli("purge", db, "-Q", "celery", input="y\n")
    assert result.exit_code == 0 and "Purged 3 waiting job(s)" in result.output
    assert app.store.count_jobs(states.WAITING_STATES) == 1  # the retry waiting in busy
    assert cli("purge", db, "-f").exit_code == 0
    assert app.store.count_jobs(states.WAITING_STATES) == 0
    assert app.store.get(known_store["running"]).state == states.STARTED


def test_prune_deletes_finished_jobs_older_than_asked_in_the_chosen_states(app, db):
    from tests.support.tasks import add

    ids = [add.apply_async((n, 0), queue="q", task_id=f"p-{n}").id for n in range(3)]
    old_ok, old_failed, new_ok = claim_all(app, "q")
    finish(app, old_ok, states.SUCCESS)
    finish(app, old_failed, states.FAILURE, exc_type="ValueError")
    finish(app, new_ok, states.SUCCESS)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:  # closed, and committed first
        conn.execute("UPDATE lq_jobs SET done_at = done_at - 8 * 86400 WHERE task_id IN ('p-0', 'p-1')")
    result = cli("prune", db, "--older-than", "7d", "--state", "SUCCESS", "--vacuum")
    assert result.exit_code == 0, result.output
    assert "Pruned 1 job(s)" in result.output and "Vacuumed" in result.output
    assert [app.store.get(i) is not None for i in ids] == [False, True, True]
    assert "not an age" in one_line_error(cli("prune", db, "--older-than", "soon"))
    assert "finished jobs only" in one_line_error(cli("prune", db, "--state", "QUEUED"))


@pytest.mark.parametrize("command", [["status"], ["result", "x"], ["revoke", "x"], ["inspect", "active"],
                                     ["purge", "-f"], ["prune"], ["schedule"], ["schedule", "list", "--json"],
                                     ["schedule", "pause", "nightly"], ["retry", "--all"], ["retry", "--task", "t"],
                                     ["retry", "x"], ["queues", "--pause", "emails"]])
def test_a_missing_database_is_a_one_line_error_and_is_not_created(tmp_path, command):
    missing = str(tmp_path / "typo.sqlite")
    line = one_line_error(cli(command[0], missing, *command[1:]))
    assert "No database at" in line
    assert os.listdir(tmp_path) == []


def test_migrate_store_refuses_a_missing_source_and_creates_neither_store(tmp_path):
    line = one_line_error(cli("migrate-store", str(tmp_path / "typo.sqlite"), str(tmp_path / "new.sqlite")))
    assert "No database at" in line and "typo.sqlite" in line
    assert os.listdir(tmp_path) == []


def test_result_of_an_unknown_id_is_a_one_line_error(app, db):
    app.store.count_jobs()  # creates the database
    assert "No job with id nope" in one_line_error(cli("result", db, "nope"))
    # the database named by the app (no DB argument) is named too, never as an empty string
    shown = describe_url(db)  # (a server URL's user and password are not printed)
    assert f"No job with id nope in {shown} " in one_line_error(cli("-A", "tests.support.tasks", "result", "nope"))
    assert f"No job with id nope in {shown};" in one_line_error(cli("-A", "tests.support.tasks", "revoke", "nope"))


@pytest.mark.parametrize("option, value, expected", [
    ("--args", "[1,", "not valid JSON"),
    ("--args", '{"x": 1}', "must be a JSON list"),
    ("--kwargs", "[1]", "must be a JSON object"),
])
def test_call_with_bad_json_is_a_one_line_error_and_sends_nothing(app, db, option, value, expected):
    line = one_line_error(cli("call", db, "tests.support.tasks.add", option, value))
    assert expected in line and option in line
    assert app.store.count_jobs() == 0
