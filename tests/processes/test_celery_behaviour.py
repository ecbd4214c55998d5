"""Where Celery code could tell the difference, litequeue behaves as Celery does: waiting jobs read
PENDING, the default queue is ``celery``, exceptions come back as their own class with their
arguments, get() inside a task raises RuntimeError, headers reach request.headers. Real workers."""

from __future__ import annotations

import os
import subprocess

import pytest

from litequeue import states
from tests.conftest import ROOT, litequeue_command
from tests.support import celery_tasks as ct


@pytest.fixture
def broker(db, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", db)
    yield db
    ct.app.close()


def burst(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([*litequeue_command(), "-A", "tests.support.celery_tasks", "worker", "--burst", "-c", "2",
                           "-l", "info", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_waiting_and_scheduled_jobs_read_pending_with_the_finer_state_beside(broker):
    now, later = ct.add.delay(1, 2), ct.add.apply_async((3, 4), countdown=3600)
    assert (now.state, later.state, now.status) == (states.PENDING, states.PENDING, states.PENDING)
    assert (now.job_state, later.job_state) == (states.QUEUED, states.SCHEDULED)
    burst()
    assert (now.state, now.get(timeout=10)) == (states.SUCCESS, 3)
    assert (later.state, later.job_state) == (states.PENDING, states.SCHEDULED)


def test_unrouted_jobs_go_to_the_celery_queue_so_a_dash_q_celery_worker_runs_them(broker):
    result = ct.add.delay(2, 2)
    assert result.job.queue == "celery"
    burst("-Q", "hipri,celery")
    assert result.get(timeout=10) == 4


def test_an_exception_with_several_arguments_comes_back_as_its_class_with_them(broker):
    result = ct.withdraw.delay("acct-7", 250)
    burst()
    with pytest.raises(ct.Overdrawn) as info:
        result.get(timeout=10)
    assert info.value.args == ("acct-7", 250) and (info.value.account, info.value.amount) == ("acct-7", 250)
    assert isinstance(result.result, ct.Overdrawn) and result.state == states.FAILURE


def test_get_inside_a_task_raises_runtime_error_unless_sync_subtasks_are_allowed(broker):
    done = ct.add.delay(5, 5)
    burst()
    refused, allowed = ct.wait_for.delay(done.id), ct.wait_for.delay(done.id, allow=True)
    burst()
    with pytest.raises(RuntimeError, match="Never call result.get.. inside a task"):
        refused.get(timeout=10)
    assert allowed.get(timeout=10) == 10


def test_headers_given_at_the_call_reach_request_headers(broker):
    result = ct.headers_seen.apply_async(headers={"trace_id": "abc-123", "tenant": 7})
    plain = ct.headers_seen.delay()
    burst()
    assert result.get(timeout=10) == {"trace_id": "abc-123", "tenant": 7}
    assert plain.get(timeout=10) is None


def test_reject_on_worker_lost_requeues_a_job_whose_child_died(broker, tmp_path):
    requeued = ct.dies_once.delay(str(tmp_path / "died-once"))
    failed = ct.dies_always.delay()
    burst()
    assert requeued.get(timeout=10) == "survived" and requeued.job.attempts == 2
    assert failed.state == states.FAILURE and failed.job.exc_type == "litequeue.errors.WorkerLostError"


def test_errors_named_in_throws_are_logged_in_one_line_without_a_traceback(broker):
    result = ct.lookup.delay("missing")
    output = burst()
    assert "raised expected: KeyError: 'missing'" in output and "Traceback" not in output
    assert result.state == states.FAILURE and result.traceback  # the traceback is still stored
