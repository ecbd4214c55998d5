"""Celery's control add_consumer / cancel_consumer and inspect query_task / conf, with real
workers: the queues a live worker consumes change through its row in the store, and what it
holds and the settings it runs with are answered from there."""

from __future__ import annotations

import socket
import subprocess
import time

from tests.conftest import ROOT, litequeue_command
from tests.support import tasks

HOST = socket.gethostname()


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*litequeue_command(), "-A", "tests.support.tasks", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_add_and_cancel_consumer_change_what_a_live_worker_claims(app, db, start_worker, worker_env):
    worker = start_worker("-Q", "a", "-n", "w1@%h", "-c", "1")
    worker.wait_for_log("ready")
    name = f"w1@{HOST}"
    on_b = tasks.add.apply_async((1, 1), queue="b")
    assert app.control.add_consumer("b", reply=True) == [{name: {"ok": "add consumer b"}}]
    assert on_b.get(timeout=30) == 2  # the live worker took up b
    assert app.control.add_consumer("b", reply=True) == [{name: {"ok": "already consuming from b"}}]
    assert [q["name"] for q in app.control.inspect().active_queues()[name]] == ["a", "b"]

    assert app.control.cancel_consumer("a", reply=True) == [{name: {"ok": "no longer consuming from a"}}]
    worker.wait_for_log("Now consuming from b (changed by app.control)")
    on_a = tasks.add.apply_async((2, 2), queue="a")
    later_on_b = tasks.add.apply_async((3, 3), queue="b")
    assert later_on_b.get(timeout=30) == 6
    assert app.AsyncResult(on_a.id).job_state == "QUEUED"  # sent first, to a queue it no longer claims from
    refused = app.control.cancel_consumer("b", reply=True)
    assert "only queue it consumes" in refused[0][name]["error"]

    added = cli(worker_env, "control", "add_consumer", db, "a")  # Celery's spelling of the command
    assert added.returncode == 0 and f"-> {name}: add consumer a" in added.stdout, added.stderr
    assert on_a.get(timeout=30) == 4
    assert app.control.add_consumer("c") is None  # no reply asked for, as in Celery


def test_a_worker_of_every_queue_can_leave_one_out_and_take_it_back(app, start_worker):
    worker = start_worker("-n", "w3@%h", "-c", "1")
    worker.wait_for_log("ready")
    name = f"w3@{HOST}"
    assert app.control.cancel_consumer("slow", reply=True) == [{name: {"ok": "no longer consuming from slow"}}]
    worker.wait_for_log("every queue but slow")
    parked = tasks.add.apply_async((1, 1), queue="slow")
    assert tasks.add.delay(2, 2).get(timeout=30) == 4
    assert app.AsyncResult(parked.id).job_state == "QUEUED"
    app.control.add_consumer("slow")
    assert parked.get(timeout=30) == 2


def test_query_task_and_conf_answer_for_a_live_worker(app, db, start_worker, worker_env, ledger):
    start_worker("-n", "w2@%h", "-c", "1")
    name = f"w2@{HOST}"
    busy = tasks.slow_record.delay("busy", 60)
    wait_until(lambda: (ledger / "busy-start.0").exists())
    held = tasks.add.delay(1, 1)
    wait_until(lambda: app.AsyncResult(held.id).job_state == "RESERVED")
    wait_until(lambda: app.AsyncResult(busy.id).job_state == "STARTED")  # marked once it has run 0.1 s
    try:
        answer = app.control.inspect().query_task(busy.id, held.id, "no-such-id")
        assert {task_id: state for task_id, (state, _) in answer[name].items()} == {
            busy.id: "active", held.id: "reserved"}
        info = answer[name][busy.id][1]
        assert (info["id"], info["name"], info["args"], info["hostname"]) == (
            busy.id, tasks.slow_record.name, ["busy", 60], name)
        assert info["delivery_info"]["routing_key"] == "celery"
        assert app.control.inspect().query_task([held.id])[name][held.id][0] == "reserved"  # Celery's list form
        shown = cli(worker_env, "inspect", db, "query_task", busy.id)
        assert shown.returncode == 0 and f"active: {busy.id}" in shown.stdout, shown.stdout + shown.stderr

        conf = app.control.inspect().conf()[name]
        assert conf["worker_lease_seconds"] == tasks.app.conf.worker_lease_seconds != 60.0  # as the worker runs
        assert "task_default_queue" not in conf  # at its default: only with with_defaults
        assert app.control.inspect().conf(with_defaults=True)[name]["task_default_queue"] == "celery"
        listed = cli(worker_env, "inspect", db, "conf")
        assert listed.returncode == 0 and "worker_lease_seconds: " in listed.stdout
    finally:
        app.control.revoke(busy.id, terminate=True)
