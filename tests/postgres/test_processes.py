"""What a multi-host deployment relies on, with real workers on PostgreSQL: concurrent workers
claim every job exactly once (SKIP LOCKED), a killed worker's jobs come back through leases, a
stopped worker's late completion changes nothing, and producers wake idle workers (NOTIFY)."""

from __future__ import annotations

import os
import signal
import time

from litequeue import LiteQueue, WorkerLostError, states
from tests.conftest import ledger_counts
from tests.postgres.conftest import query, row
from tests.support import tasks
from tests.support.observe import alive, child_pids, wait_until
from tests.support.scenarios import late_completion_is_fenced, started


def test_concurrent_workers_run_every_job_exactly_once(app, ledger, start_worker):
    workers = [start_worker("-c", "2", "-n", f"w{i}") for i in range(3)]
    for w in workers:
        w.wait_for_log("ready")
    results = [tasks.record.delay(f"job{i}") for i in range(120)]
    wait_until(lambda: app.store.count_jobs([states.SUCCESS]) == len(results), timeout=60,
               what="every job to succeed")
    for w in workers:
        w.signal(signal.SIGTERM)
    assert all(w.wait() == 0 for w in workers)
    assert ledger_counts(ledger) == {f"job{i}": 1 for i in range(120)}
    assert {r.job.attempts for r in results} == {1}
    ran_on = {r.job.worker.split("/")[0] for r in results}
    assert len(ran_on) > 1  # the claims really were shared


def test_a_killed_workers_job_runs_again_elsewhere_through_its_lease(app, db, ledger, start_worker):
    doomed = start_worker("-c", "2", "-n", "doomed")
    doomed.wait_for_log("ready")
    again = tasks.attempt_record.delay("again", 3.0)
    early = tasks.attempt_record.apply_async(("early", 3.0), acks_late=False)
    wait_until(lambda: started(ledger, "again")() and started(ledger, "early")(), what="both jobs to start")
    children = child_pids(doomed.pid)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    wait_until(lambda: not any(alive(p) for p in children), timeout=5, what="the orphaned children to exit")

    rescuer = start_worker("-c", "1", "-n", "rescuer")
    assert again.get(timeout=60)["hostname"] == "rescuer"
    try:
        early.get(timeout=30)
        raise AssertionError("an acks-early job whose worker died must not run again")
    except WorkerLostError as exc:
        assert "lease expired" in str(exc)
    assert ledger_counts(ledger) == {"again-start": 2, "again": 1, "early-start": 1}
    assert row(db, again.id)["attempts"] == 2
    rescuer.signal(signal.SIGTERM)
    assert rescuer.wait() == 0


def test_a_late_completion_from_a_stopped_worker_changes_nothing(app, db, ledger, start_worker):
    late_completion_is_fenced(db, ledger, start_worker, row)


def test_stores_in_two_schemas_of_one_database_do_not_see_each_others_jobs(pg_base, ledger, run_burst, app):
    other = LiteQueue(f"{pg_base}?schema=other_app_{os.getpid()}")
    try:
        theirs = other.send_task("tests.support.tasks.record", args=["theirs"])
        ours = tasks.record.delay("ours")
        run_burst("-c", "1")  # on the app's own schema
        assert ours.get(timeout=10) is None
        assert ledger_counts(ledger) == {"ours": 1}
        assert other.AsyncResult(theirs.id).job_state == states.QUEUED
    finally:
        other.close()


def test_an_idle_worker_is_woken_by_notify_runs_no_thread_and_listens_again_after_a_drop(app, db, ledger,
                                                                                       start_worker, worker_env):
    # Nothing else wakes it (no poll, no heartbeat for minutes): only NOTIFY starts a job in time.
    worker_env.update(LQ_POLL="300", LQ_HEARTBEAT="300", LQ_LEASE="600")
    worker = start_worker("-c", "2", "-n", "single")
    worker.wait_for_log("ready")
    assert os.listdir(f"/proc/{worker.pid}/task") == [str(worker.pid)]  # pool children fork from one thread
    time.sleep(0.5)  # idle, past its first look
    assert tasks.record.delay("woken").get(timeout=20) is None

    query(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %%' "
              "AND datname = current_database()")
    worker.wait_for_log("Listening for new jobs again")
    assert tasks.record.delay("woken again").get(timeout=20) is None
    assert ledger_counts(ledger) == {"woken": 1, "woken again": 1}
    assert os.listdir(f"/proc/{worker.pid}/task") == [str(worker.pid)]
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
