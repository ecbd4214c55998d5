"""Bulk enqueue: app.enqueue_many, task.map, task.starmap and task.chunks."""

from __future__ import annotations

import pytest

from litequeue import states
from litequeue.errors import InvalidOptionError, SerializationError


def test_enqueue_many_stores_one_job_per_call_with_the_shared_and_own_options(app):
    from tests.support.tasks import add, record

    results = app.enqueue_many(
        [(add, (1, 2)), ("tests.support.tasks.record", ("k",), {"result": 5}), (add, (3, 4), None, {"priority": 7})],
        queue="bulk",
    )
    jobs = [r.job for r in results]
    assert [j.task for j in jobs] == [add.name, record.name, add.name]
    assert {j.queue for j in jobs} == {"bulk"}
    assert [j.priority for j in jobs] == [0, 0, 7]
    assert all(j.state == states.QUEUED for j in jobs)


def test_a_bad_call_in_the_middle_enqueues_nothing(app):
    from tests.support.tasks import add

    with pytest.raises(SerializationError, match="argument 0"):
        app.enqueue_many([(add, (1, 2)), (add, (object(), 2)), (add, (5, 6))])
    with pytest.raises(InvalidOptionError, match="Each call of enqueue_many"):
        app.enqueue_many([(add, (1, 2)), (add,)])
    with pytest.raises(InvalidOptionError, match="Unknown option"):
        app.enqueue_many([(add, (1, 2))], colour="red")
    assert app.store.count_jobs() == 0


def test_map_starmap_and_chunks_run_through_a_worker(app, run_burst):
    from tests.support.tasks import add, echo

    mapped = echo.map(["a", "b", "c"])
    starred = add.starmap([(1, 1), (2, 2)])
    chunked = add.chunks([(i, i) for i in range(5)], 2)
    assert len(chunked) == 3  # 2 + 2 + 1 calls
    run_burst("-c", "2")
    assert [r.get(timeout=10) for r in mapped] == [echo.run("a"), echo.run("b"), echo.run("c")]
    assert [r.get(timeout=10) for r in starred] == [2, 4]
    assert [r.get(timeout=10) for r in chunked] == [[0, 2], [4, 6], [8]]


def test_chunks_refuses_a_size_below_one(app):
    from tests.support.tasks import add

    with pytest.raises(InvalidOptionError, match="chunk size"):
        add.chunks([(1, 2)], 0)


def test_enqueue_many_of_nothing_returns_nothing(app):
    assert app.enqueue_many([]) == []
