"""The tiny Django project on PostgreSQL: the project's models and litequeue's store in one
database, jobs written in the same transaction as the models (``enqueue_in``, and the
``django.tasks`` backend's ENQUEUE_IN), run by a real worker; a rollback leaves nothing."""

from __future__ import annotations

import pytest

from tests.support.django_run import django_env, run_and_check

pytest.importorskip("django")


def test_django_on_postgres_jobs_commit_with_the_models_and_run(tmp_path, pg_url, pg_base):
    pytest.importorskip("psycopg")
    env = django_env(tmp_path, LQ_TEST_DB=pg_url, LQ_DJANGO_PG=pg_base)
    run_and_check(env)
