"""Testing helpers for users: task_always_eager and litequeue.testing.drain, all in this process."""

from __future__ import annotations

import pytest

from litequeue import AsyncResult, states
from litequeue.testing import drain
from tests.conftest import ledger_counts


@pytest.fixture
def eager(app):
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False  # the default


def test_eager_call_runs_inline_and_stores_the_result(eager):
    from tests.support.tasks import add

    result = add.delay(2, 3)
    assert result.state == states.SUCCESS  # no worker anywhere
    assert result.get(timeout=1) == 5
    assert result.job.worker.startswith("eager-")


def test_eager_runs_at_once_whatever_the_countdown(eager, ledger):
    from tests.support.tasks import record

    record.apply_async(("soon",), countdown=3600)
    assert ledger_counts(ledger) == {"soon": 1}


def test_eager_failure_is_raised_at_the_call_and_recorded(eager):
    from tests.support.tasks import fail

    eager.conf.task_eager_propagates = True

    with pytest.raises(ValueError, match="eager boom"):
        fail.apply_async(("eager boom",), task_id="failing")
    stored = AsyncResult("failing", app=eager)
    assert stored.state == states.FAILURE
    assert "ValueError: eager boom" in stored.traceback


def test_eager_failure_without_propagation_is_raised_from_get(eager):
    from tests.support.tasks import fail

    eager.conf.task_eager_propagates = False
    result = fail.delay("later boom")
    assert result.state == states.FAILURE
    with pytest.raises(ValueError, match="later boom"):
        result.get(timeout=1)


def test_eager_retries_run_again_at_once_until_they_succeed(eager, ledger):
    from tests.support.tasks import flaky

    result = flaky.delay("flaky-eager", 2)
    assert result.get(timeout=1) == 2
    assert ledger_counts(ledger)["flaky-eager"] == 3


def test_drain_runs_every_due_job_here_and_leaves_future_ones(app, ledger):
    from tests.support.tasks import record

    now = [record.delay(f"now-{n}") for n in range(3)]
    later = record.apply_async(("later",), countdown=3600)
    assert drain(app) == 3
    assert [r.state for r in now] == [states.SUCCESS] * 3
    assert later.job_state == states.SCHEDULED
    assert drain(app, include_scheduled=True) == 1
    assert ledger_counts(ledger) == {"now-0": 1, "now-1": 1, "now-2": 1, "later": 1}


def test_drain_records_failures_as_a_worker_would(app):
    from tests.support.tasks import fail

    result = fail.delay("drained boom")
    drain(app)
    assert result.state == states.FAILURE
    with pytest.raises(ValueError, match="drained boom"):
        result.get(timeout=1)


def test_drain_of_one_queue_leaves_the_others(app, ledger):
    from tests.support.tasks import record

    record.apply_async(("mine",), queue="mine")
    other = record.apply_async(("other",), queue="other")
    assert drain(app, queues=["mine"]) == 1
    assert ledger_counts(ledger) == {"mine": 1}
    assert other.job_state == states.QUEUED


def test_eager_run_marks_the_request_as_eager(app):
    from tests.support.tasks import whoami_eager

    app.conf.task_always_eager = True
    try:
        assert whoami_eager.delay().get(timeout=5) is True
    finally:
        app.conf.task_always_eager = False


def test_eager_failure_is_raised_by_get_not_at_the_call_by_default(app):
    from tests.support.tasks import fail

    app.conf.task_always_eager = True
    try:
        result = fail.delay("eager boom")  # task_eager_propagates is off by default, as in Celery
        assert result.state == "FAILURE"
        with pytest.raises(ValueError, match="eager boom"):
            result.get(timeout=5)
    finally:
        app.conf.task_always_eager = False
