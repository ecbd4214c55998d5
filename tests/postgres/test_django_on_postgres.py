"""The tiny Django project on PostgreSQL: the project's models and litequeue's store in one
database, jobs written in the same transaction as the models (``enqueue_in``, and the
``django.tasks`` backend's ENQUEUE_IN), run by a real worker; a rollback leaves nothing."""

from __future__ import annotations

import json

import pytest

from tests.test_django import django_env, run_worker, scenario

pytest.importorskip("django")


def test_django_on_postgres_jobs_commit_with_the_models_and_run(tmp_path, pg_url, pg_base):
    pytest.importorskip("psycopg")
    env = django_env(tmp_path, LQ_TEST_DB=pg_url, LQ_DJANGO_PG=pg_base)
    sent = scenario(env, "send")
    assert sent["before_commit"] is False
    run_worker(env)
    seen = scenario(env, "check", json.dumps(sent))
    assert seen["status"] == "SUCCESSFUL" and seen["shipped"] is True and seen["receipt_sent"] is True
    assert seen["lost_ship"] == "TaskResultDoesNotExist" and seen["lost_receipt"] is True
