"""Django: a tiny real project (settings, an app, models, migrations run here) sends jobs the
Celery way (``delay_on_commit``, ``enqueue_in``) and the ``django.tasks`` way (``@task`` /
``enqueue`` through litequeue's backend); a real worker runs them. Committed transactions'
jobs run, rolled-back ones leave nothing, and no job is visible before its commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, litequeue_command

pytest.importorskip("django")


def _has_task_api() -> bool:
    import importlib.util

    return importlib.util.find_spec("django_tasks") is not None or importlib.util.find_spec("django.tasks") is not None


if not _has_task_api():
    pytest.skip("neither django.tasks (Django 6) nor the django-tasks backport is installed", allow_module_level=True)
PROJECT = ROOT / "tests" / "django_project"


def django_env(tmp_path: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=f"{PROJECT}{os.pathsep}{ROOT}", DJANGO_SETTINGS_MODULE="settings",
               **{"LQ_TEST_DB": str(tmp_path / "site.sqlite"), **extra})
    return env


def scenario(env: dict, *args: str) -> dict:
    run = subprocess.run([sys.executable, "scenario.py", *args], cwd=PROJECT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_worker(env: dict) -> None:
    run = subprocess.run([*litequeue_command(), "worker", "-A", "litequeue.contrib.django.worker", "--burst",
                          "-c", "1", "-l", "info"], cwd=PROJECT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_django_project_jobs_commit_with_the_models_and_run_on_a_real_worker(tmp_path):
    env = django_env(tmp_path)  # one SQLite file holds the project's tables and litequeue's
    sent = scenario(env, "send")
    assert sent["before_commit"] is False
    run_worker(env)
    seen = scenario(env, "check", json.dumps(sent))
    assert seen["status"] == "SUCCESSFUL" and seen["return_value"] == {"shipped": sent["kept"]}
    assert seen["shipped"] is True and seen["receipt_sent"] is True
    assert seen["receipt"] == f"receipt for {sent['kept']}"
    assert seen["lost_ship"] == "TaskResultDoesNotExist" and seen["lost_receipt"] is True
    assert seen["orders"] == 1  # the rolled-back order is gone too
