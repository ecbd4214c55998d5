"""What a worker tells its user: the banner and the --burst summary at the default log level, task
log lines that name their job, print() in a task reaching the log file, and JSON log lines."""

from __future__ import annotations

import json

from litequeue import states
from tests.support import tasks


def test_banner_and_burst_summary_show_at_the_default_log_level(app, run_burst):
    for i in range(3):
        tasks.add.delay(i, i)
    tasks.fail.delay()
    worker = run_burst("-c", "1", "-l", "warning")
    out = worker.output()
    assert "ready: store" in out and "queues all" in out
    assert "Burst finished: 4 job(s)" in out and "3 succeeded" in out and "1 failed" in out


def test_a_second_worker_with_a_live_workers_name_warns_and_still_starts(app, start_worker):
    first = start_worker("-c", "1", "-n", "dup@%h")
    first.wait_for_log("ready: store")
    second = start_worker("-c", "1", "-n", "dup@%h")
    second.wait_for_log("ready: store")
    assert "A live worker named dup@" in second.output() and "its own name with -n" in second.output()
    assert "A live worker named" not in first.output() and second.proc.poll() is None


def test_error_level_silences_the_banner(app, run_burst):
    tasks.add.delay(1, 1)
    assert "ready: store" not in run_burst("-c", "1", "-l", "error").output()


def test_task_log_lines_and_prints_carry_the_task_name_and_id_into_the_log_file(app, run_burst, tmp_path):
    result = tasks.chatty.delay("hello")
    logfile = tmp_path / "worker.log"
    run_burst("-c", "1", "-f", str(logfile))
    assert result.state == states.SUCCESS
    text = logfile.read_text()
    assert f"tests.support.tasks.chatty[{result.id}]: logged hello" in text
    assert f"tests.support.tasks.chatty[{result.id}]: printed hello" in text


def test_log_format_json_writes_one_object_per_line_with_the_job(app, run_burst, tmp_path):
    result = tasks.chatty.delay("json")
    logfile = tmp_path / "worker.log"
    run_burst("-c", "1", "-f", str(logfile), "--log-format", "json")
    entries = [json.loads(line) for line in logfile.read_text().splitlines()]
    logged = [e for e in entries if e["message"] == "logged json"]
    assert logged and logged[0]["task_id"] == result.id and logged[0]["task_name"] == "tests.support.tasks.chatty"
    assert logged[0]["time"].endswith("+00:00")
    assert any(e["message"].startswith("Burst finished: 1 job(s)") for e in entries)


def test_a_worker_on_a_path_with_no_store_refuses_and_names_the_fixes(tmp_path, start_worker):
    fresh = tmp_path / "typo.sqlite"  # not the store the app names (LQ_TEST_DB): a typo, most likely
    worker = start_worker("--burst", "-c", "1", "-l", "warning", database=str(fresh))
    assert worker.wait(60) == 1
    out = worker.output()
    assert f"Error: No store at {fresh}: the file does not exist" in out
    assert "Check the path" in out and "--create" in out and "Traceback" not in out
    assert not fresh.exists()  # nothing created


def test_a_worker_told_to_create_its_store_creates_it(tmp_path, start_worker):
    fresh = tmp_path / "new.sqlite"
    worker = start_worker("--burst", "-c", "1", "--create", database=str(fresh))
    assert worker.wait(60) == 0
    assert f"No store at {fresh}: created a new, empty one (--create)" in worker.output()
    assert fresh.exists()


def test_a_worker_on_the_store_its_app_names_creates_it_and_says_so(db, start_worker):
    from pathlib import Path

    assert not Path(db).exists()  # the app (tests.support.tasks) names db; nothing was sent yet
    worker = start_worker("--burst", "-c", "1", "-l", "warning")
    assert worker.wait(60) == 0
    assert f"No store at {db}: created a new, empty one, the store the app names" in worker.output()
    assert Path(db).exists()


def test_a_worker_on_an_existing_store_does_not_warn(app, run_burst):
    tasks.add.delay(1, 1)
    assert "No store at" not in run_burst("-c", "1").output()
