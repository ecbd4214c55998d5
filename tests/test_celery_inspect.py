"""Celery's inspect and control answered from the store, as the CLI shows them, without a
worker process: what the store says when no worker replies."""

from __future__ import annotations

from click.testing import CliRunner

from litequeue.cli import main
from tests.support import tasks


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_inspect_scheduled_with_no_live_worker_points_at_the_jobs_the_store_holds(app, db):
    assert app.store.counts() == {}  # the store exists, and holds nothing
    empty = cli("inspect", db, "scheduled")
    assert empty.exit_code == 1 and "No nodes replied" in empty.output
    assert "The store holds no job waiting for its eta." in empty.output
    for seconds in (600, 1200):
        tasks.add.apply_async((1, 2), countdown=seconds)
    tasks.add.delay(3, 4)  # due now: not scheduled
    answer = cli("inspect", db, "scheduled")
    assert answer.exit_code == 1 and "No nodes replied" in answer.output
    assert "the store holds 2 job(s) waiting for their eta" in answer.output and "litequeue status" in answer.output
    as_json = cli("inspect", db, "scheduled", "--json")  # Celery's shape for scripts: no worker, no entry
    assert as_json.exit_code == 0 and as_json.output.strip() == "{}"


def test_conf_table_shows_changed_settings_as_plain_data_with_secrets_hidden(db):
    from litequeue import Celery

    app = Celery("t", broker="postgresql://lq:hunter2@127.0.0.1/test", task_routes=lambda *a, **k: None,
                 broker_transport_options={"api_key": "k"}, result_expires=60)
    try:
        table = app.conf.table()
        assert table["broker_url"] == "postgresql://lq:**@127.0.0.1/test"
        assert table["result_expires"] == 60 and table["task_routes"].startswith("<function")
        assert "task_default_queue" not in table
        assert app.conf.table(with_defaults=True)["task_default_queue"] == "celery"
        assert "hunter2" not in str(table) and "hunter2" in str(app.conf.table(censored=False))
    finally:
        app.close()


def test_inspect_query_task_needs_ids_and_only_it_takes_them(app, db):
    assert app.store.counts() == {}
    assert cli("inspect", db, "query_task").exit_code == 2
    assert cli("inspect", db, "active", "some-id").exit_code == 2
    assert cli("inspect", db, "active", "--with-defaults").exit_code == 2
