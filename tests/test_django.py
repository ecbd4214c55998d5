"""Django: a tiny real project (settings, an app, models, migrations run here) sends jobs the
Celery way (``delay_on_commit``, ``enqueue_in``) and the ``django.tasks`` way (``@task`` /
``enqueue`` through litequeue's backend); a real worker runs them. Committed transactions'
jobs run, rolled-back ones leave nothing, and no job is visible before its commit."""

from __future__ import annotations

import pytest

from tests.support.django_run import django_env, run_and_check

pytest.importorskip("django")


def _has_task_api() -> bool:
    import importlib.util

    return importlib.util.find_spec("django_tasks") is not None or importlib.util.find_spec("django.tasks") is not None


if not _has_task_api():
    pytest.skip("neither django.tasks (Django 6) nor the django-tasks backport is installed", allow_module_level=True)


def test_django_project_jobs_commit_with_the_models_and_run_on_a_real_worker(tmp_path):
    env = django_env(tmp_path)  # one SQLite file holds the project's tables and litequeue's
    run_and_check(env)
