"""self.replace(sig) through a real worker: the outcome transaction that records the job as
REPLACED sends its replacement, whose last job takes the job's id and place."""

from __future__ import annotations

import pytest

from litequeue import chain, chord, states
from tests.conftest import POOLS
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
