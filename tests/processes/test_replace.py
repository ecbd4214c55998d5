"""self.replace(sig) through a real worker: the outcome transaction that records the job as
REPLACED sends its replacement, whose last job takes the job's id and place."""

from __future__ import annotations

import pytest

from litequeue import chain, chord, states
from litequeue.errors import TaskRevokedError
from tests.conftest import POOLS, ledger_counts
from tests.support import canvas_tasks as ct
from tests.support import tasks


@pytest.fixture(params=POOLS)
def pool(request) -> str:
    return request.param


def test_a_worker_sends_the_replacement_and_the_workflow_goes_on(app, run_burst):
    alone = ct.replaced_by.delay(5, "group")
    in_chain = chain(tasks.add.s(1, 1), ct.replaced_by.s(kind="chain"), ct.mul.s(3))()
    joined = chord([ct.replaced_by.s(1, "task"), tasks.add.s(2, 2)], ct.xsum.s())()
    worker = run_burst("-c", "2")
    assert alone.get(timeout=30) == [5, 6, 7]
    assert in_chain.get(timeout=30) == 90 and joined.get(timeout=30) == 6
    assert app.store.list_jobs([states.REPLACED]) == []
    assert f"Task tests.support.canvas_tasks.replaced_by[{alone.id}] replaced by" in worker.output()


@pytest.mark.parametrize("terminate", [False, True])
def test_revoking_a_replaced_job_revokes_its_replacements_last_job(app, ledger, run_burst, terminate):
    waiting = ct.replaced_by.apply_async((5, "chain from later"), link=ct.log_result.s())
    finished = ct.replaced_by.delay(5, "chain")
    run_burst("-Q", "celery", "-c", "1")  # the first chain's first step waits in queue "later"
    assert (waiting.job_state, finished.get(timeout=30)) == (states.REPLACED, 60)
    assert app.control.revoke([waiting.id, finished.id], terminate=terminate) == 1  # the finished one stays
    run_burst("-Q", "later,celery", "-c", "1")
    with pytest.raises(TaskRevokedError):
        waiting.get(timeout=30)
    assert (waiting.state, finished.get(timeout=30)) == (states.REVOKED, 60)
    ran = sorted(job.task.rsplit(".", 1)[1] for job in app.store.list_jobs([states.SUCCESS]))
    assert ran == ["add", "add", "mul"]  # both first steps and the finished job's last step
    assert "link-60" not in ledger_counts(ledger)  # the revoked last job set off no link
