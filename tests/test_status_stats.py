"""``litequeue status``'s queue table (``Store.queue_stats``) counts every state per queue from
partial indexes alone, never a scan of the table, and agrees with what the table holds. (Its speed
on a million jobs is measured in scripts/bench.py --status; here, the plan and the numbers.)"""

from __future__ import annotations

import time

from litequeue import monitoring, states
from litequeue.store import Outcome
from litequeue.store.claims import ClaimRequest

OWNER = "w@h/1"

# What the table holds, by a full scan: the oracle queue_stats must agree with.
ORACLE = """
SELECT queue,
  SUM(CASE WHEN state = 'QUEUED' AND wait_until IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN state = 'QUEUED' AND wait_until IS NOT NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN state = 'STARTED' THEN 1 ELSE 0 END), SUM(CASE WHEN state = 'RETRY' THEN 1 ELSE 0 END),
  SUM(CASE WHEN state = 'FAILURE' THEN 1 ELSE 0 END), SUM(CASE WHEN state = 'REVOKED' THEN 1 ELSE 0 END),
  SUM(CASE WHEN done_at IS NOT NULL AND done_at >= ? THEN 1 ELSE 0 END),
  MIN(CASE WHEN state IN ('QUEUED', 'RETRY') AND wait_until IS NULL THEN due_at END),
  SUM(CASE WHEN state = 'RESERVED' THEN 1 ELSE 0 END)
FROM lq_jobs GROUP BY queue ORDER BY queue"""


def fill(app) -> float:
    """Two queues with jobs in every state; returns a time between two batches of finished jobs."""
    from tests.support.tasks import add

    store = app.store
    for queue in ("alpha", "beta"):
        app.enqueue_many([(add, (i, i)) for i in range(8)], queue=queue)
        add.apply_async((0, 0), queue=queue, countdown=600)  # scheduled
    jobs = store.claim(OWNER, ["alpha", "beta"], (), 12, 600)  # 8 of alpha, 4 of beta: RESERVED
    now = time.time()
    store.finish(OWNER, [Outcome(jobs[0].id, 1, states.SUCCESS), Outcome(jobs[1].id, 1, states.FAILURE)])
    between = time.time()
    while time.time() == between:  # a later finish has a later done_at
        time.sleep(0.001)
    store.finish_and_claim(OWNER, [
        Outcome(jobs[2].id, 1, states.SUCCESS), Outcome(jobs[3].id, 1, states.REVOKED),
        Outcome(jobs[4].id, 1, states.RETRY, retry_at=now + 600),  # retrying, waiting for its delay
        Outcome(jobs[5].id, 1, states.RETRY, retry_at=now - 1),  # retrying, due again
        Outcome(jobs[8].id, 1, states.SUCCESS),
    ], ClaimRequest(None, (), 0, 0.0), began=[(jobs[6].id, 1, now), (jobs[9].id, 1, now)])  # STARTED
    return between


def test_the_queue_table_agrees_with_a_full_scan_of_the_table(app):
    since = fill(app)
    got = [(q.queue, q.queued, q.scheduled, q.running, q.retrying, q.failed, q.revoked, q.done_recently,
            q.oldest_due_at, q.reserved) for q in app.store.queue_stats(since)]
    expected = [tuple(row) for row in app.store.db.execute_sql(app.store.sql(ORACLE), (since,)).fetchall()]
    assert got == expected
    alpha = dict(zip(("queue", "queued", "scheduled", "running", "retrying", "failed", "revoked", "done",
                      "oldest", "reserved"), got[0], strict=True))
    assert (alpha["scheduled"], alpha["running"], alpha["retrying"], alpha["reserved"]) == (1, 1, 2, 1)
    assert alpha["done"] == 2  # finished after ``since``: the success and the revoke, not the first two
    rows = {r["queue"]: r for r in monitoring.status(app)["queues"]}
    assert rows["beta"]["reserved"] == 2 and rows["beta"]["queued"] == 4 and rows["beta"]["running"] == 1


def test_every_statement_of_the_queue_table_walks_an_index(app):
    fill(app)
    app.store.db.execute_sql("ANALYZE")
    conn = app.store.db.connection()
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    try:
        app.store.queue_stats(time.time() - 3600)
    finally:
        conn.set_trace_callback(None)
    selects = [sql for sql in ran if "lq_jobs" in sql and sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) >= 7
    for sql in selects:
        steps = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        table_reads = [s for s in steps if "lq_jobs" in s]
        assert table_reads and all("INDEX" in s for s in table_reads), (sql, steps)
        assert not any("lq_jobs_done " in s or s.endswith("lq_jobs_done") for s in table_reads)
