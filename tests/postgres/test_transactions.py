"""Transactional enqueue, on both stores: a job sent inside ``app.transaction()`` commits or rolls
back with the application's own rows, and workers hear of it only after the commit.

The classic bug this prevents: a task that runs before the row it needs is committed (it finds
nothing and fails, or works on stale data).
"""

from __future__ import annotations

import threading
import time

import pytest

from litequeue import states
from tests.support import tasks


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "app.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def shop(app):
    """The app with an ``orders`` table of the application's own in the store's database."""
    app.share_database = True
    with app.transaction() as db:
        db.execute_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
    yield app
    app.share_database = False


def seen_from_another_connection(result) -> str:
    """The job's state as another connection sees it (a thread has a connection of its own)."""
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.append(result.state))
    reader.start()
    reader.join(30)
    return seen[0]


def test_a_job_sent_inside_a_committed_transaction_runs_and_sees_the_committed_row(shop, run_burst):
    with shop.transaction() as db:
        db.execute_sql("INSERT INTO orders (id, total) VALUES (1, 42)")
        result = tasks.order_total.delay(1)
    run_burst("-c", "1")
    assert result.get(timeout=10) == 42


def test_a_rolled_back_transaction_leaves_neither_the_row_nor_the_job(shop, run_burst, ledger):
    with pytest.raises(RuntimeError, match="payment declined"):
        with shop.transaction() as db:
            db.execute_sql("INSERT INTO orders (id, total) VALUES (2, 7)")
            result = tasks.order_total.delay(2)
            tasks.record.delay("never")
            raise RuntimeError("payment declined")
    assert result.job_state == states.PENDING  # no such job: it was never stored
    assert shop.store.counts() == {}
    assert db.execute_sql("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    run_burst("-c", "1")
    assert not list(ledger.iterdir())  # nothing ran


def test_workers_are_woken_after_the_commit_not_before(shop, start_worker, worker_env):
    worker_env["LQ_POLL"] = "60"  # only a wake-up can start the job within the test's timeout
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    with shop.transaction() as db:
        db.execute_sql("INSERT INTO orders (id, total) VALUES (3, 99)")
        result = tasks.order_total.delay(3)
        time.sleep(1.0)  # a worker woken now would find nothing and go back to sleep
        assert seen_from_another_connection(result) == states.PENDING  # invisible until the commit
    assert result.get(timeout=20) == 99
    assert result.job.attempts == 1


def test_transactions_nest_and_an_inner_failure_rolls_back_only_its_own_jobs(shop, run_burst):
    with shop.transaction() as db:
        kept = tasks.add.delay(1, 2)
        with pytest.raises(ValueError):
            with shop.transaction():
                dropped = tasks.add.delay(3, 4)
                raise ValueError("inner")
        db.execute_sql("INSERT INTO orders (id, total) VALUES (4, 1)")
    run_burst("-c", "1")
    assert kept.get(timeout=10) == 3
    assert dropped.job_state == states.PENDING
