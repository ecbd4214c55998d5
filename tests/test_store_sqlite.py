"""The SQLite store: opening and refusing files, the schema version, file modes, query plans,
and the store operations results rely on (prune, forget)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from litequeue import LiteQueue, states
from litequeue.errors import (
    ForeignDatabase,
    LiteQueueError,
    SchemaTooNew,
    StoreCorrupt,
    StoreNotFound,
)
from litequeue.store import migrations
from litequeue.store.sqlite import SqliteStore, path_from_url


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_app(path: Path, **settings) -> LiteQueue:
    app = LiteQueue(path, **settings)

    @app.task(name="t.add")
    def add(x, y):
        return x + y

    return app


@pytest.fixture
def queue_app(tmp_path: Path):
    app = fresh_app(tmp_path / "q.sqlite")
    yield app
    app.close()


# -- opening -------------------------------------------------------------------------------------


def test_a_new_database_records_the_schema_version(tmp_path):
    path = tmp_path / "new.sqlite"
    SqliteStore(str(path)).close()
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM lq_meta WHERE key = 'schema_version'").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert int(row[0]) == migrations.SCHEMA_VERSION
    assert mode == "wal"


def test_reopening_a_database_keeps_its_jobs(tmp_path):
    path = tmp_path / "again.sqlite"
    app = fresh_app(path)
    r = app.send_task("t.add", args=[1, 2])
    app.close()
    app2 = fresh_app(path)
    try:
        assert app2.store.get(r.id).state == states.QUEUED
    finally:
        app2.close()


def test_sqlite_url_forms_name_the_same_file():
    assert path_from_url("sqlite:////abs/path.db") == "/abs/path.db"
    assert path_from_url("sqlite:///rel/path.db") == "rel/path.db"
    assert path_from_url("plain/path.db") == "plain/path.db"


def test_database_written_by_a_newer_litequeue_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "newer.sqlite"
    SqliteStore(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE lq_meta SET value = ? WHERE key = 'schema_version'", (str(migrations.SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    before = digest(path)
    app = fresh_app(path)
    with pytest.raises(SchemaTooNew, match="newer litequeue.*Upgrade litequeue"):
        app.send_task("t.add", args=[1, 2])
    assert digest(path) == before
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM lq_jobs").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_missing_directory_is_a_clear_error_and_creates_nothing(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "db.sqlite"
    app = fresh_app(path)
    with pytest.raises(StoreNotFound, match="does not exist") as info:
        app.send_task("t.add", args=[1, 2])
    assert str(path.parent) in str(info.value)
    assert not (tmp_path / "no").exists()


def test_a_directory_given_as_the_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreNotFound, match="is a directory"):
        fresh_app(tmp_path).store  # noqa: B018


NOT_SQLITE = {
    "text": b"name,value\nalpha,1\nbeta,2\n" * 50,
    "binary": bytes(range(256)) * 8,
    "sqlite header then garbage": b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 1024,
}


@pytest.mark.parametrize("content", NOT_SQLITE.values(), ids=NOT_SQLITE.keys())
def test_a_file_that_is_not_an_sqlite_database_is_refused_and_left_byte_for_byte_unchanged(tmp_path, content):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    app = fresh_app(path)
    with pytest.raises(StoreCorrupt) as info:
        app.send_task("t.add", args=[1, 2])
    assert str(path) in str(info.value)
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["notes.sqlite"]  # no -wal, -shm or journal left behind


def test_another_applications_database_is_refused_unless_shared(tmp_path):
    path = tmp_path / "theirs.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ForeignDatabase, match="share_database=True"):
        fresh_app(path).store  # noqa: B018
    assert digest(path) == before
    shared = LiteQueue(path, share_database=True)
    try:
        shared.send_task("t.add", args=[1, 2])
        assert shared.store.counts() == {("celery", states.QUEUED): 1}
    finally:
        shared.close()


def test_store_errors_are_litequeue_errors():
    for cls in (StoreNotFound, StoreCorrupt, SchemaTooNew, ForeignDatabase):
        assert issubclass(cls, LiteQueueError)


def test_database_and_its_wal_files_are_private_to_the_user(tmp_path):
    old = os.umask(0o022)
    try:
        app = fresh_app(tmp_path / "private.sqlite")
        app.send_task("t.add", args=[1, 2])
        names = sorted(os.listdir(tmp_path))
        assert names == ["private.sqlite", "private.sqlite-shm", "private.sqlite-wal"]
        for name in names:
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
        app.close()
    finally:
        os.umask(old)


# -- query plans ---------------------------------------------------------------------------------


def capture_sql(store, action) -> list[tuple[str, tuple]]:
    """The statements (and parameters) ``action`` makes the store run."""
    seen: list[tuple[str, tuple]] = []
    original = store.db.execute_sql

    def recording(sql, params=None, *args, **kwargs):
        seen.append((sql, params))
        return original(sql, params, *args, **kwargs)

    store.db.execute_sql = recording
    try:
        action()
    finally:
        del store.db.execute_sql
    return [(sql, params) for sql, params in seen if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT"))]


def plan(store, sql: str, params) -> list[str]:
    return [row[3] for row in store.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]


CLAIMS = {
    "named queues": lambda s: s.claim("w", ["celery", "other"], (), 8, 30),
    "every queue": lambda s: s.claim("w", None, (), 8, 30),
    "every queue but some": lambda s: s.claim("w", None, ("x", "y"), 8, 30),
}


@pytest.mark.parametrize("claim", CLAIMS.values(), ids=CLAIMS.keys())
def test_claims_walk_a_partial_index_in_order_without_sorting(queue_app, claim):
    store = queue_app.store
    for p in (0, 5, -1):
        queue_app.send_task("t.add", args=[1, p], priority=p)
    statements = capture_sql(store, lambda: claim(store))
    assert any("SET state = 'RESERVED'" in sql for sql, _ in statements), "the claim ran no UPDATE"
    plans = [plan(store, sql, params) for sql, params in statements]
    assert any(any("USING INDEX lq_jobs_claim_queue" in s for s in steps) for steps in plans), plans
    for steps in plans:  # every statement seeks an index: no scan of the table, no sort
        assert not any("TEMP B-TREE" in s for s in steps), steps
        assert all("USING INDEX" in s or "USING COVERING INDEX" in s or "PRIMARY KEY" in s
                   for s in steps if s.startswith(("SCAN", "SEARCH"))), steps


def test_claim_plan_would_notice_an_index_that_forces_a_sort(queue_app):
    """The check above can fail: with the claim index in the wrong order, SQLite must sort."""
    store = queue_app.store
    statements = capture_sql(store, lambda: CLAIMS["named queues"](store))
    sql, params = next((s, p) for s, p in statements if "SET state = 'RESERVED'" in s)
    store.db.execute_sql("DROP INDEX lq_jobs_claim_queue")
    store.db.execute_sql("CREATE INDEX lq_jobs_claim_queue ON lq_jobs (queue, id, priority DESC) "
                         "WHERE state IN ('QUEUED', 'RETRY') AND wait_until IS NULL")
    assert any("TEMP B-TREE" in s for s in plan(store, sql, params))


HOUSEKEEPING = {
    "promote_due": lambda s: s.promote_due(),
    "next_eta": lambda s: s.next_eta(),
    "rescue_expired": lambda s: s.rescue_expired(),
    "prune": lambda s: s.prune(time.time()),
}


@pytest.mark.parametrize("action", HOUSEKEEPING.values(), ids=HOUSEKEEPING.keys())
def test_housekeeping_statements_use_an_index(queue_app, action):
    store = queue_app.store
    for sql, params in capture_sql(store, lambda: action(store)):
        steps = plan(store, sql, params)
        assert not any(s.startswith("SCAN lq_jobs") and "INDEX" not in s for s in steps), (sql, steps)
        assert not any("TEMP B-TREE" in s for s in steps), (sql, steps)


# -- operations results depend on -----------------------------------------------------------------


def finish_all(store, state: str = states.SUCCESS) -> None:
    from litequeue.store import Outcome

    jobs = store.claim("w", None, (), 100, 30)
    store.finish("w", [Outcome(j.id, j.attempts, state, result=b"1", result_type="application/json") for j in jobs])


def test_prune_deletes_finished_jobs_older_than_the_cutoff_only(queue_app):
    store = queue_app.store
    old = [queue_app.send_task("t.add", args=[i, 0]) for i in range(3)]
    finish_all(store)
    cutoff = time.time()
    while time.time() <= cutoff:  # the next jobs finish strictly after the cutoff
        time.sleep(0.001)
    recent = queue_app.send_task("t.add", args=[9, 9])
    finish_all(store)
    waiting = queue_app.send_task("t.add", args=[0, 0])
    assert store.prune(cutoff) == 3
    assert [store.get(r.id) for r in old] == [None, None, None]
    assert store.get(recent.id).state == states.SUCCESS
    assert store.get(waiting.id).state == states.QUEUED


def test_prune_works_in_batches(queue_app):
    store = queue_app.store
    for i in range(7):
        queue_app.send_task("t.add", args=[i, 0])
    finish_all(store, states.FAILURE)
    later = time.time() + 1
    assert [store.prune(later, batch=3) for _ in range(4)] == [3, 3, 1, 0]


def test_forget_deletes_only_finished_jobs(queue_app):
    store = queue_app.store
    done = queue_app.send_task("t.add", args=[1, 1])
    finish_all(store)
    waiting = queue_app.send_task("t.add", args=[2, 2])
    assert store.forget(done.id) is True
    assert store.forget(waiting.id) is False
    assert done.job_state == states.PENDING
    assert waiting.job_state == states.QUEUED


def test_enqueue_then_claim_returns_the_job_as_sent(queue_app):
    r = queue_app.send_task("t.add", args=[1, 2], priority=4, queue="q1")
    [job] = queue_app.store.claim("me", ["q1"], (), 5, 30)
    assert (job.task_id, job.task, job.queue, job.priority, job.state) == (r.id, "t.add", "q1", 4, states.RESERVED)
    assert job.lease_owner == "me" and job.attempts == 1
    assert queue_app.store.claim("other", ["q1"], (), 5, 30) == []  # a claimed job is invisible


def test_claims_within_a_priority_follow_when_jobs_became_due_then_enqueue_order(tmp_path):
    import datetime as dt

    app = fresh_app(tmp_path / "order.sqlite")
    add = app.tasks[next(iter(app.tasks))]
    now = time.time()
    later = add.apply_async((1, 1), eta=dt.datetime.fromtimestamp(now + 0.3), task_id="due-later")
    plain = add.apply_async((2, 2), task_id="sent-plain")
    overdue = add.apply_async((3, 3), eta=dt.datetime.fromtimestamp(now - 60), task_id="overdue-eta")
    while time.time() < now + 0.35:  # let the eta pass; no worker is involved
        time.sleep(0.05)
    app.store.promote_due()
    claimed = app.store.claim("tester", None, (), 10, 30)
    assert [j.task_id for j in claimed] == [overdue.id, plain.id, later.id]


def test_a_claim_on_every_queue_takes_the_best_jobs_across_queues_in_claim_order(queue_app):
    send = queue_app.send_task
    for queue, priority, name in [("a", 0, "a0"), ("b", 9, "b9"), ("c", 9, "c9"), ("b", 0, "b0"),
                                  ("a", 5, "a5"), ("z", 7, "z7"), ("a", 9, "a9")]:
        send("t.add", args=[1, 1], queue=queue, priority=priority, task_id=name)
    store = queue_app.store
    assert [j.task_id for j in store.claim("w", None, ("c",), 4, 30)] == ["b9", "a9", "z7", "a5"]
    assert [j.task_id for j in store.claim("w", None, ("c",), 9, 30)] == ["a0", "b0"]
    assert [j.task_id for j in store.claim("w", None, (), 9, 30)] == ["c9"]
    assert store.claim("w", None, (), 9, 30) == []


def test_a_version_3_store_loses_the_second_claim_index(tmp_path):
    from litequeue.store.models import CLAIMABLE

    path = tmp_path / "v3.sqlite"
    fresh_app(path).store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE INDEX lq_jobs_claim_any ON lq_jobs (priority DESC, due_at, id) WHERE {CLAIMABLE}")
    conn.execute("UPDATE lq_meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    app = fresh_app(path)
    indexes = {r[0] for r in app.store.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "lq_jobs_claim_any" not in indexes and "lq_jobs_claim_queue" in indexes
    assert migrations.read_version(app.store.db) == migrations.SCHEMA_VERSION
    app.close()


def test_a_version_2_store_is_upgraded_keeping_its_jobs_in_claim_order(tmp_path):
    import sqlite3

    from litequeue.store.models import CLAIMABLE

    path = tmp_path / "v2.sqlite"
    fresh_app(path).store.close()
    conn = sqlite3.connect(path)  # turn it back into what a version-2 litequeue wrote
    conn.execute("DROP INDEX lq_jobs_claim_queue")
    conn.execute("ALTER TABLE lq_jobs DROP COLUMN due_at")
    conn.execute(f"CREATE INDEX lq_jobs_claim_queue ON lq_jobs (queue, priority DESC, id) WHERE {CLAIMABLE}")
    conn.execute(f"CREATE INDEX lq_jobs_claim_any ON lq_jobs (priority DESC, id) WHERE {CLAIMABLE}")
    conn.execute("UPDATE lq_meta SET value = '2' WHERE key = 'schema_version'")
    columns = ("task_id, task, queue, routing_key, priority, state, content_type, created_at, eta, attempts, "
               "acks_late, ignore_result, durable")
    conn.execute(f"INSERT INTO lq_jobs ({columns}) VALUES ('late', 't', 'default', 'default', 0, 'QUEUED', "
                 "'application/json', 100, 300, 0, 1, 0, 1)")
    conn.execute(f"INSERT INTO lq_jobs ({columns}) VALUES ('early', 't', 'default', 'default', 0, 'QUEUED', "
                 "'application/json', 200, NULL, 0, 1, 0, 1)")
    conn.commit()
    conn.close()
    app = fresh_app(path)
    assert migrations.read_version(app.store.db) == migrations.SCHEMA_VERSION
    assert [j.task_id for j in app.store.claim("tester", None, (), 5, 30)] == ["early", "late"]


def test_a_batch_of_outcomes_applies_those_its_fences_accept_and_only_those(queue_app):
    from litequeue.store import Outcome

    store = queue_app.store
    for i in range(3):
        queue_app.send_task("t.add", args=[i, i], task_id=f"j{i}")
    first, second, third = store.claim("w", None, (), 3, 30)
    stale = Outcome(second.id, second.attempts + 1, states.SUCCESS, result=b"2", result_type="application/json")
    batch = [Outcome(j.id, j.attempts, states.SUCCESS, result=b"1", result_type="application/json")
             for j in (first, third)]
    applied = store.finish("w", [batch[0], stale, batch[1]])
    assert applied == batch
    assert [store.get(f"j{i}").state for i in range(3)] == [states.SUCCESS, states.RESERVED, states.SUCCESS]
    assert store.finish("someone-else", [Outcome(second.id, second.attempts, states.SUCCESS)]) == []
    assert store.get("j1").state == states.RESERVED


def test_a_claim_on_every_queue_finds_a_new_queue_once_the_known_ones_are_empty(queue_app):
    store = queue_app.store
    queue_app.send_task("t.add", args=[1, 1], queue="a", task_id="a1")
    assert [j.task_id for j in store.claim("w", None, (), 5, 30)] == ["a1"]
    queue_app.send_task("t.add", args=[1, 1], queue="b", task_id="b1")  # a queue the last listing did not see
    assert [j.task_id for j in store.claim("w", None, (), 5, 30)] == ["b1"]


def test_a_claim_on_every_queue_ranks_a_new_queue_once_its_list_is_due_again(queue_app, monkeypatch):
    from litequeue.store import claims

    store = queue_app.store
    for i in range(3):
        queue_app.send_task("t.add", args=[1, 1], queue="a", task_id=f"a{i}")
    assert [j.task_id for j in store.claim("w", None, (), 1, 30)] == ["a0"]
    queue_app.send_task("t.add", args=[1, 1], queue="b", priority=9, task_id="urgent")
    monkeypatch.setattr(claims, "QUEUE_LIST_SECONDS", 0.0)
    assert [j.task_id for j in store.claim("w", None, (), 2, 30)] == ["urgent", "a1"]


def test_finish_and_claim_records_outcomes_and_takes_the_next_jobs_even_when_one_is_fenced(queue_app):
    from litequeue.store import ClaimRequest, Outcome

    store = queue_app.store
    for i in range(4):
        queue_app.send_task("t.add", args=[i, i], task_id=f"j{i}")
    j0, j1 = store.claim("w", ["celery"], (), 2, 30)
    ok = Outcome(j0.id, j0.attempts, states.SUCCESS, result=b"0", result_type="application/json")
    stale = Outcome(j1.id, j1.attempts + 1, states.SUCCESS, result=b"2", result_type="application/json")
    for batch, applied_expected in (([ok], [ok]), ([stale], [])):
        applied, claimed = store.finish_and_claim("w", batch, ClaimRequest(["celery"], (), 1, 30))
        assert applied == applied_expected and len(claimed) == 1
    assert [store.get(f"j{i}").state for i in range(4)] == [states.SUCCESS] + [states.RESERVED] * 3


# -- the store's own write transactions --------------------------------------------------------------


def test_a_failed_write_rolls_back_and_leaves_no_transaction_open(queue_app):
    store = queue_app.store
    add = queue_app.tasks["t.add"]
    kept = add.delay(1, 1)
    with pytest.raises(RuntimeError), store.write():
        store.db.execute_sql("UPDATE lq_jobs SET priority = 5")
        raise RuntimeError("boom")
    assert not store.db.connection().in_transaction
    assert store.get(kept.id).priority == 0
    assert [j.task_id for j in store.claim("w", None, (), 5, 60.0)] == [kept.id]  # the store still writes


def test_a_write_inside_the_apps_transaction_is_a_savepoint_of_it(queue_app):
    store = queue_app.store
    add = queue_app.tasks["t.add"]
    with queue_app.transaction():
        outer = add.delay(1, 1)
        with pytest.raises(RuntimeError), store.write():
            store.db.execute_sql("UPDATE lq_jobs SET priority = 9")
            raise RuntimeError("undo only this")
        with store.write():
            store.db.execute_sql("UPDATE lq_jobs SET priority = 3")
        assert store.db.connection().in_transaction
    assert store.get(outer.id).priority == 3
    with pytest.raises(RuntimeError), queue_app.transaction():
        gone = add.delay(2, 2)
        with store.write():
            store.db.execute_sql("UPDATE lq_jobs SET priority = 4")
        raise RuntimeError("undo it all")
    assert store.get(gone.id) is None and store.get(outer.id).priority == 3
    assert not store.db.connection().in_transaction


def test_a_write_waits_for_another_writer_then_goes_ahead(queue_app):
    import threading

    store = queue_app.store
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    started = time.monotonic()
    with store.write():
        store.db.execute_sql("UPDATE lq_jobs SET priority = 1")
    assert time.monotonic() - started >= 0.25
    other.close()


def test_a_transaction_litequeue_did_not_start_is_not_joined_silently(queue_app):
    from litequeue.errors import StoreError

    store = queue_app.store
    add = queue_app.tasks["t.add"]
    store.db.connection().execute("BEGIN")  # straight on the driver: nobody would commit the job
    with pytest.raises(StoreError, match="did not start"):
        add.delay(1, 1)
    with pytest.raises(StoreError, match="did not start"):
        store.claim("w", None, (), 5, 60.0)
    store.db.connection().execute("ROLLBACK")
    sent = add.delay(1, 1)
    assert [j.task_id for j in store.claim("w", None, (), 5, 60.0)] == [sent.id]


def test_bulk_jobs_inside_the_apps_transaction_wake_workers_only_after_its_commit(queue_app):
    store = queue_app.store
    add = queue_app.tasks["t.add"]
    woken = []
    store.notify = lambda: woken.append(store.db.connection().in_transaction)
    with queue_app.transaction():
        add.starmap([(1, 2), (3, 4)])
        add.delay(5, 6)
        assert woken == []
    assert woken == [False, False]
    add.starmap([(1, 2), (3, 4)])
    assert woken == [False, False, False]


def test_claimed_jobs_are_built_after_the_commit_not_under_the_write_lock(queue_app, monkeypatch):
    from litequeue.store import ClaimRequest, Job

    store = queue_app.store
    add = queue_app.tasks["t.add"]
    for i in range(4):
        add.delay(i, i)
    built_in_transaction = []
    original = Job._from_values.__func__

    def watching(cls, values):
        built_in_transaction.append(store.db.connection().in_transaction)
        return original(cls, values)

    monkeypatch.setattr(Job, "_from_values", classmethod(watching))
    first = store.claim("w", None, (), 2, 60.0)
    _, more = store.finish_and_claim("w", [], ClaimRequest(None, (), 2, 60.0))
    assert [j.attempts for j in first + more] == [1, 1, 1, 1]
    assert built_in_transaction == [False] * 4


def test_a_threads_connection_is_closed_once_the_thread_is_gone_and_the_callers_stays_open(tmp_path):
    app = LiteQueue(str(tmp_path / "db.sqlite"))
    opened = []

    def send() -> None:  # what a web server's request thread does
        app.send_task("tests.support.tasks.add", args=[1, 2])
        opened.append(app.store.db.connection())

    thread = threading.Thread(target=send)
    thread.start()
    thread.join()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")
    assert app.store.count_jobs() == 1  # this thread's own connection still works
    app.close()



def test_a_jobs_parent_and_children_are_read_through_indexes(queue_app):
    store = queue_app.store
    statements = capture_sql(store, lambda: (store.parent_of("x"), store.children_of("x")))
    plans = [plan(store, sql, params) for sql, params in statements]
    assert len(plans) == 2
    assert any("lq_jobs_task_id" in step for step in plans[0]) and not any("SCAN" in s for s in plans[0])
    assert sum("lq_jobs_parent" in step for step in plans[1]) == 2  # the children, and their groups
    assert not any(step.startswith("SCAN lq_jobs") for step in plans[1])


def test_a_version_10_store_gains_the_parent_column_and_keeps_its_jobs(tmp_path):
    path = tmp_path / "v10.sqlite"
    app = fresh_app(path)
    app.send_task("t.add", (1, 2), task_id="old")
    app.close()
    conn = sqlite3.connect(path)  # turn it back into what a version-10 litequeue wrote
    conn.execute("DROP INDEX lq_jobs_parent")
    conn.execute("ALTER TABLE lq_jobs DROP COLUMN parent_id")
    conn.execute("UPDATE lq_meta SET value = '10' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    app = fresh_app(path)
    assert migrations.read_version(app.store.db) == migrations.SCHEMA_VERSION
    assert app.store.get("old").parent_id is None and app.store.parent_of("old") is None
    first = app.send_task("t.add", (1, 2), task_id="first")
    app.send_task("t.add", (3, 4), task_id="second", parent_id=first.id)
    assert app.store.parent_of("second").id == "first"
    assert [c.id for c in app.store.children_of("first")] == ["second"] and app.store.children_of("old") == []
    app.close()
