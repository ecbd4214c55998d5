"""Abortable tasks (litequeue.contrib.abortable) through real workers: abort() asks a running job
to stop and it stops cleanly under every pool; a job aborted before it began never runs."""

from __future__ import annotations

import pytest

from litequeue import states
from litequeue.contrib.abortable import AbortableAsyncResult
from tests.conftest import POOLS, ledger_counts
from tests.processes.test_operations import wait_until
from tests.support import tasks


@pytest.fixture(params=POOLS)
def pool(request: pytest.FixtureRequest) -> str:
    return request.param


def test_an_aborted_running_job_sees_is_aborted_and_stops_cleanly(app, ledger, start_worker, pool):
    worker = start_worker("-c", "1")
    running = tasks.until_aborted.delay("job", 60)
    wait_until(lambda: "job-start" in ledger_counts(ledger), what="the job to start")
    handle = AbortableAsyncResult(running.id, app=app)
    assert not handle.is_aborted()
    handle.abort()
    assert handle.is_aborted()
    assert running.get(timeout=30) == "aborted"  # it ended as its task decided: not killed
    assert running.state == states.SUCCESS and handle.is_aborted()
    assert ledger_counts(ledger) == {"job-start": 1, "job-aborted": 1}
    assert tasks.add.delay(1, 2).get(timeout=30) == 3 and worker.proc.poll() is None


def test_a_job_aborted_before_it_began_never_runs(app, ledger, run_burst, pool):
    waiting = tasks.until_aborted.delay("early", 0.2)
    handle = tasks.until_aborted.AsyncResult(waiting.id)
    assert isinstance(handle, AbortableAsyncResult)
    handle.abort()
    assert handle.is_aborted() and handle.state == states.REVOKED
    run_burst("-c", "1")
    assert handle.state == states.REVOKED and ledger_counts(ledger) == {}


def test_a_job_nobody_aborted_runs_to_its_end(app, ledger, run_burst, pool):
    result = tasks.until_aborted.delay("calm", 0.2)
    run_burst("-c", "1")
    assert result.get(timeout=1) == "ran out"
    assert not AbortableAsyncResult(result.id, app=app).is_aborted()
    assert not tasks.until_aborted.is_aborted()  # called outside a job
