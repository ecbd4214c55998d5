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
