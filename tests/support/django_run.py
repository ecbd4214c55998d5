"""Running the tiny Django project of the tests (tests/django_project) as a user runs one: its
scenario script sends jobs (``send``) and reports what became of them (``check``), in processes of
their own, and a real ``litequeue worker -A litequeue.contrib.django.worker`` runs the jobs in
between. Any Python may run it (the suite's own, or a virtualenv with another Django)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, litequeue_command

PROJECT = ROOT / "tests" / "django_project"


def django_env(tmp_path: Path, pythonpath: str | None = None, **extra: str) -> dict:
    """The project's environment: its settings, a store and database in ``tmp_path``, and a file
    where its receivers write the task API's signals. ``pythonpath`` defaults to the project and
    this checkout."""
    env = dict(os.environ)
    env.update(PYTHONPATH=pythonpath or f"{PROJECT}{os.pathsep}{ROOT}", DJANGO_SETTINGS_MODULE="settings",
               **{"LQ_TEST_DB": str(tmp_path / "site.sqlite"), "LQ_DJANGO_SIGNALS": str(tmp_path / "signals.jsonl"),
                  **extra})
    return env


def scenario(env: dict, *args: str, python: str = sys.executable) -> dict:
    run = subprocess.run([python, "scenario.py", *args], cwd=PROJECT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_worker(env: dict, command: list[str] | None = None) -> str:
    """A --burst worker over the project's jobs; its log."""
    run = subprocess.run([*(command or litequeue_command()), "worker", "-A", "litequeue.contrib.django.worker",
                          "--burst", "-c", "1", "-l", "info"], cwd=PROJECT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stderr


def signals(env: dict) -> list[dict]:
    path = Path(env["LQ_DJANGO_SIGNALS"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_and_check(env: dict, python: str = sys.executable, command: list[str] | None = None) -> dict:
    """Send, work, check: every outcome a Django user relies on, asserted; the check's report."""
    sent = scenario(env, "send", python=python)
    assert sent["before_commit"] is False  # the store's own connection cannot see it before the commit
    run_worker(env, command)
    seen = scenario(env, "check", json.dumps(sent), python=python)
    assert seen["status"] == "SUCCESSFUL" and seen["return_value"] == {"shipped": sent["kept"]}
    assert seen["shipped"] is True and seen["receipt_sent"] is True
    assert seen["receipt"] == f"receipt for {sent['kept']}"
    assert seen["lost_ship"] == "TaskResultDoesNotExist" and seen["lost_receipt"] is True
    assert seen["orders"] == 1  # the rolled-back order is gone too
    assert (seen["refused"], seen["refused_class"], seen["refused_errors"]) == ("FAILED", "ValueError", 1)
    assert f"order {sent['kept']} refused" in seen["refused_traceback"] and seen["refused_attempts"] == 1
    assert seen["note"] == {"attempt": 1, "id": sent["note"], "status": "RUNNING", "text": "hi"}
    assert seen["note_attempts"] == 1 and seen["note_finished"] is True
    by_job: dict[str, list[tuple[str, str]]] = {}
    for s in signals(env):
        by_job.setdefault(s["id"], []).append((s["signal"], s["status"]))
    assert by_job[sent["ship"]] == [("enqueued", "READY"), ("started", "RUNNING"), ("finished", "SUCCESSFUL")]
    assert by_job[sent["refuse"]] == [("enqueued", "READY"), ("started", "RUNNING"), ("finished", "FAILED")]
    assert by_job[sent["note"]] == [("enqueued", "READY"), ("started", "RUNNING"), ("finished", "SUCCESSFUL")]
    assert by_job[sent["lost_ship"]] == [("enqueued", "READY")]  # rolled back: never started
    return seen
