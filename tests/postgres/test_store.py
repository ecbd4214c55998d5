"""The PostgreSQL store under concurrency and failure, through its own API: racing claims and
beat fires, concurrent first opens, a newer schema, and connections the server drops."""

from __future__ import annotations

import threading
import time

import pytest

from litequeue import LiteQueue
from litequeue.errors import SchemaTooNew, StoreUnavailable
from litequeue.store import NewJob
from litequeue.store.migrations import SCHEMA_VERSION
from litequeue.store.schedules import ScheduleRow
from tests.postgres.conftest import query


def new_jobs(n: int, prefix: str = "job") -> list[NewJob]:
    return [NewJob(task_id=f"{prefix}-{i}", task="tests.support.tasks.add", queue="celery", routing_key="celery",
                   body=b"[[1,2],{}]", content_type="application/json") for i in range(n)]


def race(n: int, fn) -> list:
    """Run fn(i) in n threads at once (each thread has its own connection); their results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_racing_claims_never_take_the_same_job_twice(db):
    app = LiteQueue(db)
    app.store.enqueue(new_jobs(300))

    def claim_all(i: int) -> list[int]:
        taken = []
        while batch := app.store.claim(f"w{i}", None, (), 5, 60):
            taken += [j.id for j in batch]
        return taken

    claimed = race(6, claim_all)
    every = [job_id for taken in claimed for job_id in taken]
    assert len(every) == 300 and len(set(every)) == 300
    assert sum(1 for taken in claimed if taken) > 1
    app.close()


def test_several_beats_racing_for_one_fire_enqueue_exactly_one_job(db):
    app = LiteQueue(db)
    now = time.time()
    entry = ScheduleRow(name="tick", task="tests.support.tasks.add", schedule='{"every": 60.0}', message=b"{}",
                        misfire="run_once", misfire_grace=30.0, misfire_limit=1, timezone="UTC", origin="runtime",
                        start_at=now, next_fire=now)
    app.store.put_schedule(entry)
    row = app.store.schedule("tick")
    won = race(6, lambda i: app.store.fire(row, now, now + 60, new_jobs(1, prefix=f"beat{i}")))
    assert sum(w is not None for w in won) == 1
    assert app.store.count_jobs() == 1
    assert [f.fire_time for f in app.store.fires("tick")] == [now]
    assert app.store.schedule("tick").next_fire == now + 60
    app.close()


def test_processes_opening_a_new_schema_at_once_create_it_once(pg_base):
    url = f"{pg_base}?schema=opened_at_once"
    stores = race(5, lambda i: LiteQueue(url).store)
    assert query(url, "SELECT value FROM lq_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    for store in stores:
        store.close()


def test_a_schema_written_by_a_newer_litequeue_is_refused(db):
    LiteQueue(db).store.close()  # creates the schema
    query(db, "UPDATE lq_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNew, match="schema version 99"):
        LiteQueue(db).store.counts()


def test_a_version_10_schema_gains_the_parent_column_and_keeps_its_jobs(db):
    app = LiteQueue(db)
    app.store.enqueue(new_jobs(1, "old"))
    app.close()
    query(db, "DROP INDEX lq_jobs_parent")
    query(db, "ALTER TABLE lq_jobs DROP COLUMN parent_id")
    query(db, "UPDATE lq_meta SET value = '10' WHERE key = 'schema_version'")
    app = LiteQueue(db)
    assert app.store.get("old-0").parent_id is None
    app.store.enqueue([new_jobs(1, "child")[0]._replace(options={"parent_id": "old-0"})])
    assert app.store.parent_of("child-0").id == "old-0" and app.store.get("child-0").options == {}
    assert [c.id for c in app.store.children_of("old-0")] == ["child-0"]
    assert query(db, "SELECT value FROM lq_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    app.close()


def test_a_connection_the_server_dropped_fails_once_then_reconnects(db):
    app = LiteQueue(db)
    app.store.enqueue(new_jobs(1))
    backend = app.store.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    query(db, "SELECT pg_terminate_backend(%s)", (backend,))
    with pytest.raises(StoreUnavailable, match="cannot reach PostgreSQL"):
        app.store.counts()
    assert app.store.counts() == {("celery", "QUEUED"): 1}
    app.close()


def test_the_claim_walks_its_index_in_order_and_never_sorts(db, caplog):
    app = LiteQueue(db)
    app.store.enqueue([NewJob(task_id=f"p{i}", task="t", queue=f"q{i % 3}", routing_key="k", body=b"[]",
                              content_type="application/json", priority=i % 2) for i in range(3000)])
    app.store.db.execute_sql("ANALYZE lq_jobs")
    with caplog.at_level("DEBUG", logger="peewee"):
        app.store.claim("me", None, (), 5, 60)
        app.store.claim("me", ["q1"], (), 5, 60)
    statements = [r.msg for r in caplog.records if isinstance(r.msg, tuple) and "lq_jobs" in r.msg[0]]
    locking = [sql for sql, _ in statements if "FOR UPDATE SKIP LOCKED" in sql]
    assert len(locking) == 2, locking  # every queue, then the named queue: each locks only what it takes
    for sql, params in statements:
        plan = "\n".join(row[0] for row in app.store.db.execute_sql("EXPLAIN " + sql, params).fetchall())
        assert "Sort" not in plan and "Seq Scan" not in plan, plan
        if "ORDER BY priority DESC, due_at, id LIMIT" in sql:  # candidate reads and the named claim
            assert "lq_jobs_claim_queue" in plan, plan
    app.close()


def test_a_duplicate_task_id_is_reported_as_such_on_postgres(pg_url):
    from litequeue.errors import DuplicateJob

    app = LiteQueue(pg_url)
    try:
        app.store.enqueue(new_jobs(1, "dup"))
        with pytest.raises(DuplicateJob, match="already exists"):
            app.store.enqueue(new_jobs(1, "dup"))
    finally:
        app.close()
