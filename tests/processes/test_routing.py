"""Routing through real `litequeue worker` processes: dedicated workers with -Q, strict and
round-robin queue order, -X, and transient queues that leave nothing behind."""

from __future__ import annotations

import sqlite3

import pytest

from litequeue import LiteQueue, Queue, states
from tests.conftest import ledger_counts

TASKS = "tests.support.tasks"


@pytest.fixture
def producer(db):
    """An app configured as in the routing guide's example; it sends tasks by name."""
    app = LiteQueue(db)
    app.conf.task_queues = (
        Queue("celery", routing_key="task.#"),
        Queue("web_tasks", routing_key="web.#"),
        Queue("transient", routing_key="transient", delivery_mode=1),
    )
    app.conf.task_default_exchange = "tasks"
    app.conf.task_default_exchange_type = "topic"
    app.conf.task_default_routing_key = "task.default"
    app.conf.task_routes = {"proj.tasks.add": {"queue": "web_tasks", "routing_key": "web.add"}}
    yield app
    app.close()


def rows(db: str, queue: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM lq_jobs WHERE queue = ?", (queue,)).fetchone()[0]
    finally:
        conn.close()


def test_the_guide_example_runs_web_jobs_only_on_the_web_worker(producer, start_worker, ledger, db):
    add = producer.send_task("proj.tasks.add", (2, 3))
    by_key = producer.send_task(f"{TASKS}.whoami", routing_key="web.images.resize")
    unrouted = producer.send_task(f"{TASKS}.whoami")
    transient = producer.send_task(f"{TASKS}.record", ("transient-job",), routing_key="transient")

    web = start_worker("--burst", "-Q", "web_tasks", "-n", "web@test", "-c", "1")
    other = start_worker("--burst", "-X", "web_tasks", "-n", "main@test", "-c", "1")
    assert web.wait(60) == 0, web.output()
    assert other.wait(60) == 0, other.output()

    assert add.get(timeout=10) == {"sum": 5, "worker": "web@test", "queue": "web_tasks"}
    assert by_key.get(timeout=10)["hostname"] == "web@test"
    assert unrouted.get(timeout=10)["hostname"] == "main@test"
    assert unrouted.get(timeout=10)["queue"] == "celery"
    assert ledger_counts(ledger) == {"transient-job": 1}
    assert producer.store.get(transient.id) is None
    assert rows(db, "transient") == 0


def test_a_worker_on_one_queue_leaves_the_other_queues_alone(producer, run_burst):
    web_job = producer.send_task("proj.tasks.add", (1, 1))
    default_job = producer.send_task("proj.tasks.add", (1, 1), queue="celery")
    run_burst("-Q", "web_tasks", "-c", "1")
    assert web_job.state == states.SUCCESS
    assert default_job.job_state == states.QUEUED


def _run_order(app: LiteQueue, results: dict) -> list[str]:
    """Labels of the jobs in the order they ran (record_time returns when it ran)."""
    return [label for label, _ in sorted(results.items(), key=lambda item: item[1].get(timeout=10))]


def test_q_is_a_strict_priority_order_between_queues(app, run_burst):
    from tests.support.tasks import record_time

    results = {}
    for i in range(3):  # b's jobs are older: strict order must still run every job of a first
        results[f"b{i}"] = record_time.apply_async((f"b{i}",), queue="b")
        results[f"a{i}"] = record_time.apply_async((f"a{i}",), queue="a")
    results["b-urgent"] = record_time.apply_async(("b-urgent",), queue="b", priority=9)
    results["c0"] = record_time.apply_async(("c0",), queue="c")
    run_burst("-Q", "a,b", "-c", "1")
    assert _run_order(app, {k: v for k, v in results.items() if k != "c0"}) == [
        "a0", "a1", "a2", "b-urgent", "b0", "b1", "b2"]
    assert results["c0"].job_state == states.QUEUED


def test_round_robin_takes_queues_in_turn(app, run_burst):
    from tests.support.tasks import record_time

    results = {f"a{i}": record_time.apply_async((f"a{i}",), queue="a") for i in range(4)}
    results.update({f"b{i}": record_time.apply_async((f"b{i}",), queue="b") for i in range(2)})
    run_burst("-Q", "a,b", "--queue-order", "round-robin", "-c", "1")
    assert _run_order(app, results) == ["a0", "b0", "a1", "b1", "a2", "a3"]


def test_round_robin_takes_a_fair_share_of_each_queue_when_a_limit_is_declared(app):
    """With any rate or concurrency limit declared, claims take the limits' path: it too takes
    round-robin's share of each queue before the rest (it took the first queue's jobs first)."""
    from litequeue.flow import code_limits
    from tests.support.tasks import record_time

    app.store.declare_limits(*code_limits(app))  # the test tasks declare rate limits
    for i in range(4):
        record_time.apply_async((f"a{i}",), queue="a")
    for i in range(2):
        record_time.apply_async((f"b{i}",), queue="b")
    claimed = app.store.claim("w/1", ["a", "b"], (), 4, 60.0, per_queue=2)
    assert [job.queue for job in claimed] == ["a", "a", "b", "b"]


def test_x_excludes_queues_and_no_selection_runs_every_queue(app, run_burst, ledger):
    from tests.support.tasks import record

    sent = {q: record.apply_async((q,), queue=q) for q in ("a", "b", "never_declared")}
    run_burst("-X", "b", "-c", "1")
    assert ledger_counts(ledger) == {"a": 1, "never_declared": 1}
    assert sent["b"].job_state == states.QUEUED
    run_burst("-c", "1")
    assert ledger_counts(ledger) == {"a": 1, "never_declared": 1, "b": 1}


def test_transient_jobs_leave_no_row_and_no_result_while_persistent_ones_keep_theirs(producer, run_burst, ledger, db):
    done = producer.send_task(f"{TASKS}.record", ("t-ok", "kept?"), routing_key="transient")
    failed = producer.send_task(f"{TASKS}.fail", ("transient failure",), routing_key="transient")
    durable = producer.send_task(f"{TASKS}.record", ("p-ok", "kept"), queue="celery")
    durable_failed = producer.send_task(f"{TASKS}.fail", ("persistent failure",), queue="celery")
    run_burst("-c", "2")
    assert ledger_counts(ledger) == {"t-ok": 1, "p-ok": 1}
    assert producer.store.get(done.id) is None and producer.store.get(failed.id) is None
    assert done.job_state == states.PENDING
    assert rows(db, "transient") == 0
    assert durable.get(timeout=10) == "kept"
    assert durable_failed.state == states.FAILURE
