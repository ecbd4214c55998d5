"""Celery's task_revoked, sent in a worker for every job revoked or expired before it ran, once
per job and with Celery's arguments: jobs revoked while they waited in the store (announced by a
worker consuming their queue), jobs revoked while a worker held them reserved, expired jobs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import POOLS
from tests.support import tasks

RECEIVERS = ("-A", "tests.support.revoke_receivers")


def heard(ledger: Path) -> list[dict]:
    path = ledger / "revoked.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def notices_left(app) -> int:
    return app.store.db.execute_sql("SELECT COUNT(*) FROM lq_jobs WHERE revoke_notice").fetchone()[0]


def test_jobs_revoked_while_waiting_are_announced_once_by_the_next_worker_of_their_queue(app, run_burst, ledger):
    queued = tasks.add.delay(1, 2)
    scheduled = tasks.add.apply_async((3, 4), countdown=3600)
    expired = tasks.add.apply_async((5, 6), expires=0.001)
    kept = tasks.add.delay(7, 8)
    assert app.control.revoke([queued.id, scheduled.id]) == 2
    run_burst(*RECEIVERS)
    assert kept.get(timeout=10) == 15
    calls = {call["id"]: call for call in heard(ledger)}
    assert len(heard(ledger)) == 3 == len(calls)  # once each
    for result, args in ((queued, [1, 2]), (scheduled, [3, 4])):
        call = calls[result.id]
        assert (call["task"], call["args"], call["terminated"], call["signum"], call["expired"]) == (
            tasks.add.name, args, False, None, False)
    assert calls[expired.id]["expired"] is True and calls[expired.id]["args"] == [5, 6]
    assert notices_left(app) == 0
    run_burst(*RECEIVERS)  # a second worker hears nothing more
    assert len(heard(ledger)) == 3


def test_two_live_workers_announce_each_revoke_once_between_them(app, start_worker, ledger):
    workers = [start_worker(*RECEIVERS, "-c", "1") for _ in range(2)]
    for worker in workers:
        worker.wait_for_log("ready")
    waiting = [tasks.add.apply_async((i, i), countdown=3600) for i in range(20)]
    assert app.control.revoke([r.id for r in waiting[:10]]) == 10
    assert app.control.revoke([r.id for r in waiting[10:]]) == 10
    wait_until(lambda: notices_left(app) == 0)
    wait_until(lambda: len(heard(ledger)) >= 20)
    calls = heard(ledger)
    assert sorted(call["id"] for call in calls) == sorted(r.id for r in waiting)  # each once, none twice
    assert {call["pid"] for call in calls} <= {w.pid for w in workers}


def test_a_revoke_is_announced_by_a_worker_of_its_queue_only(app, run_burst, ledger):
    job = tasks.add.apply_async((1, 1), queue="reports", countdown=3600)
    app.control.revoke(job.id)
    run_burst(*RECEIVERS, "-Q", "celery")
    assert heard(ledger) == [] and notices_left(app) == 1
    run_burst(*RECEIVERS, "-X", "celery")
    assert [call["id"] for call in heard(ledger)] == [job.id] and notices_left(app) == 0


def test_a_job_revoked_while_reserved_is_announced_by_the_worker_holding_it(app, start_worker, ledger):
    worker = start_worker(*RECEIVERS, "-c", "1")
    busy = tasks.slow_record.delay("busy", 60)
    wait_until(lambda: (ledger / "busy-start.0").exists())
    held = tasks.add.delay(2, 2)  # claimed ahead by the busy worker (prefetch), not begun
    wait_until(lambda: app.AsyncResult(held.id).job_state == "RESERVED")
    app.control.revoke(held.id)
    wait_until(lambda: app.AsyncResult(held.id).job_state == "REVOKED")
    wait_until(lambda: len(heard(ledger)) >= 1)
    assert [(c["id"], c["expired"], c["terminated"], c["pid"]) for c in heard(ledger)] == [
        (held.id, False, False, worker.pid)]
    assert notices_left(app) == 0  # the holder announced it: no notice was left for another worker
    app.control.revoke(busy.id, terminate=True)
    wait_until(lambda: len(heard(ledger)) >= 2)
    terminated = heard(ledger)[1]
    assert (terminated["id"], terminated["terminated"], terminated["expired"]) == (busy.id, True, False)


@pytest.mark.parametrize("pool", POOLS)
def test_a_terminated_job_is_announced_with_the_signal_that_stopped_it(app, start_worker, ledger, pool):
    """Prefork kills the process running the job with SIGKILL and says so; a thread or a solo job
    is stopped without a signal to anything, so the announcement names none."""
    start_worker(*RECEIVERS, "-c", "1")
    busy = tasks.slow_record.delay("busy", 60)
    wait_until(lambda: (ledger / "busy-start.0").exists())
    app.control.revoke(busy.id, terminate=True)
    wait_until(lambda: len(heard(ledger)) >= 1)
    (call,) = heard(ledger)
    assert (call["id"], call["terminated"], call["expired"]) == (busy.id, True, False)
    assert call["signum"] == (signal.SIGKILL if pool == "prefork" else None)
