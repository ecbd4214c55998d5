"""Celery's inspect and control, answered through the store by real workers, from the API and the
command line (``litequeue -A proj inspect ...``, ``litequeue -A proj control ...``)."""

from __future__ import annotations

import subprocess
import time

import pytest

from litequeue import states
from tests.conftest import ROOT, litequeue_command
from tests.support import celery_tasks as ct

APP = ["-A", "tests.support.celery_tasks"]


@pytest.fixture
def env(celery_env):
    return celery_env


def litequeue(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*litequeue_command(), *APP, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def start_worker(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen([*litequeue_command(), *APP, "worker", "-n", name, "-c", "1", "-Q", "celery,hipri"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_inspect_and_control_answer_per_live_worker_and_shutdown_stops_it(env):
    worker = start_worker(env, "w1@testhost")
    try:
        inspect = ct.app.control.inspect()
        wait_for(lambda: "w1@testhost" in inspect.ping())
        assert ct.app.control.ping() == [{"w1@testhost": {"ok": "pong"}}]
        assert ct.app.control.inspect(destination=["other@host"]).ping() == {}
        assert "tests.support.celery_tasks.add" in inspect.registered()["w1@testhost"]
        assert [q["name"] for q in inspect.active_queues()["w1@testhost"]] == ["celery", "hipri"]
        later = ct.add.apply_async((1, 1), countdown=3600)
        assert [e["request"]["id"] for e in inspect.scheduled()["w1@testhost"]] == [later.id]
        assert ct.app.control.revoke(later.id, terminate=True, signal="SIGKILL") == 1
        assert later.state == states.REVOKED and inspect.revoked()["w1@testhost"] == [later.id]
        assert ct.add.delay(2, 3).get(timeout=30) == 5
        shown = litequeue(env, "inspect", "registered")
        assert shown.returncode == 0 and "-> w1@testhost: OK" in shown.stdout
        assert "* tests.support.celery_tasks.add" in shown.stdout
        stopped = litequeue(env, "control", "shutdown")
        assert stopped.returncode == 0 and "-> w1@testhost: shutting down" in stopped.stdout, stopped.stderr
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    nobody = litequeue(env, "inspect", "ping")
    assert nobody.returncode == 1 and "No nodes replied" in nobody.stderr
