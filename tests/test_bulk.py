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


def test_bulk_ids_are_unique_time_ordered_uuid7s(app):
    import uuid

    @app.task
    def one(i):
        return i

    results = one.map(range(3000))
    ids = [r.id for r in results]
    assert len(set(ids)) == 3000
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)  # in call order at the end of the id index
    later = one.map(range(10))
    assert not set(r.id for r in later) & set(ids)


def test_a_call_naming_its_task_by_something_else_is_refused_clearly(app):
    @app.task
    def one(i):
        return i

    with pytest.raises(InvalidOptionError, match="names its task by a Task or a task name"):
        app.enqueue_many([(one, (1,)), ([1, 2], (2,))])
    assert sum(app.store.counts().values()) == 0


def test_bulk_calls_by_task_and_by_name_mix_and_keep_their_order(app):
    @app.task
    def one(i):
        return i

    results = app.enqueue_many([(one, (1,)), (one.name, (2,)), (one, (3,), {}), (one, [4]), (one, (5,))])
    jobs = [app.store.get(r.id) for r in results]
    assert [j.body for j in jobs] == [b"[[%d],{}]" % i for i in range(1, 6)]
