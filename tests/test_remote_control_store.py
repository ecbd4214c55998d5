"""The store side of Celery's control: revoke notices taken once, through their partial index;
a worker's queues rewritten in one transaction."""

from __future__ import annotations

import re

from litequeue.store import WorkerInfo
from tests.support import tasks


def _plan(store, sql: str, params: tuple) -> str:
    return " | ".join(row[3] for row in store.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def test_revoke_notices_are_found_through_their_partial_index(app):
    store = app.store
    for queues in ("revoke_notice AND queue IN (?)", "revoke_notice AND queue NOT IN (?)"):
        pick = f"SELECT id FROM lq_jobs{store.index_hint('lq_jobs_revoke_notices')} WHERE {queues} ORDER BY id LIMIT 5"
        plan = _plan(store, pick, ("celery",))  # the statement take_revoke_notices runs
        full_scan = re.search(r"SCAN lq_jobs(?! USING (COVERING )?INDEX)", plan)
        assert "lq_jobs_revoke_notices" in plan and not full_scan, plan


def test_a_notice_is_taken_once_and_only_by_a_taker_of_its_queue(app):
    jobs = [tasks.add.apply_async((i, i), countdown=600) for i in range(3)]
    other = tasks.add.apply_async((9, 9), queue="other", countdown=600)
    running = tasks.add.delay(5, 5)
    app.store.claim("w@h/1", None, (), 10, 60)  # reserved: revoking it leaves the holder to announce it
    app.control.revoke([r.id for r in [*jobs, other, running]])
    taken = app.store.take_revoke_notices(["celery"], (), 2)
    assert [j.task_id for j in taken] == [jobs[0].id, jobs[1].id]
    assert [j.task_id for j in app.store.take_revoke_notices(None, ("other",), 10)] == [jobs[2].id]
    assert app.store.take_revoke_notices(None, (), 10)[0].task_id == other.id
    assert app.store.take_revoke_notices(None, (), 10) == []


def test_worker_queues_change_in_one_transaction_and_only_for_a_known_worker(app):
    app.store.register_worker(WorkerInfo("w@h", "h", 1, 1, "a", 0.0, 0.0, 0))
    assert app.store.change_worker_queues("w@h", lambda text: (text + ",b", "added")) == ("a,b", "added")
    assert app.store.worker_queues("w@h") == "a,b"
    assert app.store.change_worker_queues("w@h", lambda text: (None, "refused")) == (None, "refused")
    assert app.store.worker_queues("w@h") == "a,b"
    assert app.store.change_worker_queues("nobody@h", lambda text: (text, "x")) is None
