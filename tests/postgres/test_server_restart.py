"""A server restarting under a running worker is survived: the worker reconnects, no job is lost,
and the publish retry covers producers during the outage. The server restarted is a private
cluster of this module's own, never the shared one."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from litequeue import states
from litequeue.errors import StoreError
from tests.conftest import ledger_counts
from tests.support import tasks
from tests.support.observe import wait_until


@pytest.fixture
def db(private_cluster, request) -> str:
    return private_cluster.url() + f"?schema=restart_{request.node.name[:40].lower()}"


def test_a_worker_survives_a_server_restart_and_no_job_is_lost(private_cluster, app, ledger, start_worker):
    worker = start_worker("-c", "2")
    worker.wait_for_log("ready")
    before = [tasks.record.delay(f"before{i}") for i in range(10)]
    wait_until(lambda: app.store.count_jobs([states.SUCCESS]) == 10, what="the first jobs to run")

    restart = threading.Thread(target=private_cluster.restart)
    restart.start()
    policy = {"max_retries": 100, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.5}
    during = []
    for i in range(20):  # some of these are sent while the server is down or starting
        during.append(tasks.record.apply_async((f"during{i}",), retry_policy=policy))
        time.sleep(0.1)
    restart.join(120)

    _wait_for_every_job(app, 30, worker, timeout=60)
    counts = ledger_counts(ledger)
    assert sorted(counts) == sorted([f"before{i}" for i in range(10)] + [f"during{i}" for i in range(20)])
    assert all(n >= 1 for n in counts.values())  # at least once; none lost
    assert all(r.state == states.SUCCESS for r in before + during)
    worker.wait_for_log("Reconnected to the store")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_no_job_is_left_started_after_the_server_crashes_under_load(private_cluster, app, ledger, start_worker):
    """The server crash-restarted (``pg_ctl restart -m immediate``) three times while jobs run:
    the worker's unsynced outcome commits may be undone, and every job still ends SUCCESS, none
    left STARTED or RESERVED (heartbeats renew only the jobs a worker really holds)."""
    policy = {"max_retries": 200, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.5}
    sent = [tasks.slow_record.apply_async((f"job{i}", 0.05), retry_policy=policy) for i in range(60)]
    worker = start_worker("-c", "2")
    worker.wait_for_log("ready")
    for _ in range(3):
        wait_until(lambda: len(ledger_counts(ledger)) > 0, what="jobs to run before the crash")
        private_cluster.restart("immediate")
        sent += [tasks.slow_record.apply_async((f"job{len(sent) + i}", 0.05), retry_policy=policy) for i in range(10)]

    _wait_for_every_job(app, len(sent), worker, timeout=120)
    assert _count(app, states.STARTED, states.RESERVED) == 0
    finished = sorted(key for key in ledger_counts(ledger) if not key.endswith("-start"))
    assert finished == sorted(f"job{i}" for i in range(len(sent)))
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def _wait_for_every_job(app, total: int, worker, timeout: float) -> None:
    """Wait until ``total`` jobs have ended SUCCESS; on a timeout, fail with what the store holds
    and the worker's log (a rare failure under a loaded CI run must be diagnosable from its output)."""
    try:
        wait_until(lambda: _count(app, states.SUCCESS) == total, timeout=timeout, what="every job to end SUCCESS")
    except AssertionError:
        held = {state: _count(app, state) for state in states.ALL_STATES}
        log = worker.log_path.read_text(errors="replace")[-4000:]
        pytest.fail(f"{total} jobs sent, not all SUCCESS after {timeout}s; the store holds "
                    f"{ {k: v for k, v in held.items() if v} }; the worker's log ends:\n{log}")


def _count(app, *wanted: str) -> int:
    """Jobs in these states; -1 while the producer's connection finds the server gone (its next
    statement reconnects)."""
    try:
        return app.store.count_jobs(list(wanted))
    except StoreError:
        return -1
