"""A task raising Celery's Ignore, run by a real --burst worker under every pool: the job ends
IGNORED (done, lease released, run once), sets nothing off, and Celery code reads the state the
task stored, else PENDING."""

from __future__ import annotations

import pytest

from litequeue import TaskIgnoredError, chord, states
from litequeue.errors import ChordError
from tests.conftest import POOLS, ledger_counts
from tests.support import canvas_tasks as ct
from tests.support import ignore_tasks as it
from tests.support import tasks


@pytest.fixture(params=POOLS)
def pool(request) -> str:
    return request.param


def test_a_worker_ends_an_ignored_job_once_without_links_and_logs_it(app, ledger, run_burst):
    plain = it.ignored.apply_async(("plain",), link=ct.log_result.s(), link_error=ct.on_error.s())
    reported = it.ignored.delay("reported", "FAILURE", {"why": "a duplicate"})
    joined = chord([tasks.add.s(1, 1), it.ignored_if.s(-1, "member")], ct.collect.s())()
    worker = run_burst()
    job = plain.job
    assert (plain.job_state, plain.state, job.done_at is not None, job.lease_owner) == (
        states.IGNORED, states.PENDING, True, None)
    with pytest.raises(TaskIgnoredError, match=plain.id):
        plain.get(timeout=30)
    assert (reported.state, reported.info, reported.job_state) == (states.FAILURE, {"why": "a duplicate"},
                                                                   states.IGNORED)
    with pytest.raises(ChordError, match="raised Ignore"):
        joined.get(timeout=30)
    assert ledger_counts(ledger) == {"plain": 1, "reported": 1, "member": 1}  # once each; no link, errback
    assert f"Task tests.support.ignore_tasks.ignored[{plain.id}] ignored" in worker.output()
    assert "3 ignored" in worker.output()
