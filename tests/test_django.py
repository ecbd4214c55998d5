"""Django: a tiny real project (settings, an app, models, migrations run here) sends jobs the
Celery way (``delay_on_commit``, ``enqueue_in``) and the ``django.tasks`` way (``@task`` /
``enqueue`` through litequeue's backend); a real worker runs them. Committed transactions'
jobs run, rolled-back ones leave nothing, and no job is visible before its commit."""

from __future__ import annotations

import pytest

from tests.support.django_run import django_env, run_and_check, scenario

pytest.importorskip("django")


def _has_task_api() -> bool:
    import importlib.util

    return importlib.util.find_spec("django_tasks") is not None or importlib.util.find_spec("django.tasks") is not None


if not _has_task_api():
    pytest.skip("neither django.tasks (Django 6) nor the django-tasks backport is installed", allow_module_level=True)


def test_django_project_jobs_commit_with_the_models_and_run_on_a_real_worker(tmp_path):
    env = django_env(tmp_path)  # one SQLite file holds the project's tables and litequeue's
    run_and_check(env)


def test_a_job_sent_inside_the_sites_own_transaction_on_the_shared_file_fails_at_once(tmp_path):
    """Django keeps one connection per thread and lets any thread use it, so only knowing it is
    this thread's Django connection tells a self-deadlock from another thread's short write."""
    seen = scenario(django_env(tmp_path), "selflock")
    assert seen["delay"].startswith("SelfDeadlock") and seen["delay_seconds"] < 5  # not the 30 s timeout
    assert seen["enqueue_in"].startswith("SelfDeadlock") and "touch app.store" in seen["enqueue_in"]
    assert seen["enqueue_in_seconds"] < 5
    assert seen["delay_after_open"].startswith("SelfDeadlock") and "enqueue_in" in seen["delay_after_open"]
