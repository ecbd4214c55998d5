"""A worker's outcome commit undone by a database crash: the job runs again, it is never stuck
STARTED under a living worker's lease (issue 21, item 3).

Workers commit outcomes without waiting for the disk, so a crash of the database can undo one:
the row is back to STARTED, leased to a worker that no longer holds the job. SQLite's case is
reproduced by restoring a copy of the file taken before the commit; the store-agnostic tests
rewind the row to what it was before the commit (PostgreSQL runs them too: test_same_as_...).
"""

from __future__ import annotations

import sqlite3
import time

from litequeue import states
from tests.conftest import ledger_counts
from tests.support import tasks
from tests.support.observe import wait_until


def _started_row(app, task_id: str) -> tuple:
    return app.store.db.execute_sql(app.store.sql(
        "SELECT state, lease_owner, lease_until, attempts FROM lq_jobs WHERE task_id = ?"), (task_id,)).fetchone()


def test_a_job_whose_outcome_commit_is_undone_runs_again(app, start_worker, ledger):
    job = tasks.slow_record.delay("undone", 0.5)
    worker = start_worker("-c", "1")
    wait_until(lambda: "undone-start" in ledger_counts(ledger), what="the job to start")
    before = _started_row(app, job.id)  # the claim is committed; the outcome is not yet
    assert before[0] in states.LEASED_STATES  # reserved, or already marked begun
    assert job.get(timeout=30) == 0.5
    app.store.db.execute_sql(app.store.sql(  # what the crash leaves: the claim's row again
        "UPDATE lq_jobs SET state = ?, lease_owner = ?, lease_until = ?, attempts = ?, result = NULL, "
        "done_at = NULL WHERE task_id = ?"), (*before, job.id))
    assert job.job.state in states.LEASED_STATES
    wait_until(lambda: ledger_counts(ledger).get("undone") == 2, what="the job to run again")
    wait_until(lambda: job.state == states.SUCCESS, what="the second run's outcome")
    assert "no longer held" in worker.output()


def test_extend_leases_renews_only_the_jobs_held_and_gives_back_the_rest(app):
    store = app.store
    for n in range(3):
        tasks.add.delay(n, n)
    held, orphan, lost = store.claim("w/1", None, (), 3, 60.0)
    store.db.execute_sql(store.sql("UPDATE lq_jobs SET lease_owner = ? WHERE id = ?"), ("w/other", lost.id))
    report = store.extend_leases("w/1", 60.0, [held.id, lost.id])
    assert report.held == {held.id: False}  # the lost one is another owner's now
    assert report.given_up == [orphan.id]  # owned, not held: put back at the next rescue
    rescued = {task_id: state for task_id, _, state in store.rescue_expired()}
    assert rescued == {orphan.task_id: states.QUEUED}
    assert "no longer held it" in store.get(orphan.task_id).exc_message
    assert store.get(held.task_id).state == states.RESERVED  # claimed, and still held
    assert store.extend_leases("w/1", 60.0, []).given_up == [held.id]  # holding nothing, owning one


def test_extend_leases_spares_a_claim_its_pool_process_has_not_reported_yet(app):
    """A pool process that claims at a wake-up reports the job a moment after its claim commits;
    a heartbeat in that moment must not give the job up (it would be claimed twice)."""
    store = app.store
    tasks.add.delay(1, 1)
    (before,) = store.claim("w/1", None, (), 1, 60.0)
    armed_at = store.lease_clock()  # a pool process is armed now; what it claims is leased after
    tasks.add.delay(2, 2)
    (claimed,) = store.claim("w/1", None, (), 1, 60.0)
    assert store.extend_leases("w/1", 60.0, [], spare_since=armed_at).given_up == [before.id]
    assert store.get(claimed.task_id).lease_until > time.time() + 50  # its lease is untouched
    assert set(store.extend_leases("w/1", 60.0, []).given_up) == {before.id, claimed.id}  # once disarmed


def test_release_unreported_puts_back_only_the_unheld_claims_made_since_the_arming(app):
    """An armed pool process died before reporting: what it claimed since it was armed (never
    begun) is queued again with its attempt refunded; older leases and held jobs are left alone."""
    store = app.store
    tasks.add.delay(1, 1)
    (before,) = store.claim("w/1", None, (), 1, 60.0)
    armed_at = store.lease_clock()
    tasks.add.delay(2, 2)
    tasks.add.delay(3, 3)
    held, orphan = store.claim("w/1", None, (), 2, 60.0)
    assert store.release_unreported("w/1", armed_at, 60.0, [held.id]) == [(orphan.task_id, orphan.task)]
    assert [store.get(j.task_id).state for j in (before, held, orphan)] == [states.RESERVED, states.RESERVED,
                                                                            states.QUEUED]
    assert store.get(orphan.task_id).attempts == 0
    assert store.release_unreported("w/2", armed_at, 60.0, []) == []  # another worker's claims: never


def test_sqlite_a_restored_copy_taken_before_the_outcome_commit_does_not_strand_the_job(
        app, db, start_worker, ledger, tmp_path):
    job = tasks.slow_record.delay("restored", 0.5)
    worker = start_worker("-c", "1")
    wait_until(lambda: "restored-start" in ledger_counts(ledger), what="the job to start")
    snapshot = sqlite3.connect(tmp_path / "before.sqlite")
    live = sqlite3.connect(db, timeout=30)
    live.backup(snapshot)  # a consistent copy of the file: the claim committed, the outcome not
    assert job.get(timeout=30) == 0.5
    snapshot.backup(live)  # the crash: the file as it was before the outcome's commit
    live.close()
    snapshot.close()
    assert job.job.state in states.LEASED_STATES
    started = time.monotonic()
    wait_until(lambda: job.state == states.SUCCESS and ledger_counts(ledger).get("restored") == 2,
               what="the job to run again")
    assert time.monotonic() - started < 30
    assert "no longer held" in worker.output()
