"""Celery's publish signals once per message: a bulk send, a map, a group and a beat fire are
heard job by job, each with its own headers, body and routing key, and still stored in one
transaction; headers a before_task_publish receiver adds reach the task."""

from __future__ import annotations

import time

import pytest

from litequeue import Celery, Queue, group, signals
from litequeue.beat import Beat
from litequeue.errors import InvalidOptionError
from litequeue.testing import drain


@pytest.fixture
def app(db):
    app = Celery("pub", broker=db)
    app.conf.task_routes = {"pub.urgent": {"queue": "hipri"}}
    yield app
    app.close()


@pytest.fixture
def heard(app):
    """Every publish signal sent meanwhile: (signal, sender, task id, routing key, args, extra),
    and how many jobs the store held when each was sent."""
    got: list[tuple] = []

    def before(sender=None, body=None, exchange=None, routing_key=None, headers=None, properties=None,
               declare=None, retry_policy=None, **kwargs):
        got.append(("before", sender, headers["id"], routing_key, tuple(body[0]), properties["correlation_id"],
                    _stored(app)))

    def after(sender=None, body=None, exchange=None, routing_key=None, headers=None, **kwargs):
        assert not kwargs.keys() - {"signal"}  # Celery's after_task_publish arguments, no more
        got.append(("after", sender, headers["id"], routing_key, tuple(body[0]), exchange, _stored(app)))

    signals.before_task_publish.connect(before)
    signals.after_task_publish.connect(after)
    yield got
    signals.before_task_publish.disconnect(before)
    signals.after_task_publish.disconnect(after)


def _stored(app) -> int:
    return sum(app.store.counts().values())


def _tasks(app):
    @app.task(name="pub.add")
    def add(x, y):
        return x + y

    @app.task(name="pub.urgent")
    def urgent(x):
        return x

    return add, urgent


def test_a_bulk_send_is_heard_once_per_job_each_with_its_own_message(app, heard):
    add, urgent = _tasks(app)
    results = app.enqueue_many([(add, (1, 2)), (urgent, (7,)), (add, (3, 4))])
    ids = [r.id for r in results]
    assert heard == [("before", "pub.add", ids[0], "celery", (1, 2), ids[0], 0),
                     ("before", "pub.urgent", ids[1], "hipri", (7,), ids[1], 0),
                     ("before", "pub.add", ids[2], "celery", (3, 4), ids[2], 0),
                     # all three stored at once, in one transaction, between the two rounds
                     ("after", "pub.add", ids[0], "celery", (1, 2), "", 3),
                     ("after", "pub.urgent", ids[1], "hipri", (7,), "", 3),
                     ("after", "pub.add", ids[2], "celery", (3, 4), "", 3)]
    drain(app)
    assert [r.get(timeout=5) for r in results] == [3, 7, 7]


def test_starmap_chunks_and_a_group_are_heard_message_by_message(app, heard):
    add, _ = _tasks(app)
    sent = add.starmap([(i, i) for i in range(4)])
    assert [h[2] for h in heard if h[0] == "after"] == [r.id for r in sent]
    heard.clear()
    result = group(add.s(i, 1) for i in range(3)).apply_async()
    for kind in ("before", "after"):
        assert [h[2] for h in heard if h[0] == kind] == [r.id for r in result.results]
    heard.clear()
    chunks = add.chunks([(i, i) for i in range(10)], 5)
    assert [(h[1], h[2]) for h in heard if h[0] == "after"] == [("litequeue.chunk", r.id) for r in chunks]


def test_a_key_that_reaches_several_queues_is_one_message(db, heard):
    app = Celery("fan", broker=db, task_queues=(Queue("audit", routing_key="#"), Queue("images", routing_key="img.*")))
    try:
        result = app.send_task("resize", routing_key="img.small")
        assert sorted(j.task_id for j in app.store.list_jobs()) == sorted([result.id, f"{result.id}.images"])
        assert [(h[0], h[2]) for h in heard] == [("before", result.id), ("after", result.id)]
    finally:
        app.close()


def test_a_beat_fire_is_heard_like_any_send(app, heard):
    add, _ = _tasks(app)
    app.conf.beat_schedule = {"sum": {"task": "pub.add", "schedule": 0.05, "args": (2, 2)}}
    beat = Beat(app, max_interval=0.05)
    beat.start()
    try:
        deadline = time.monotonic() + 30
        while not any(h[0] == "after" for h in heard):
            assert time.monotonic() < deadline, "beat sent nothing"
            beat.tick()
            time.sleep(0.05)
    finally:
        beat.stop()
    fired = [h for h in heard if h[0] == "after"]
    assert fired[0][1:5] == ("pub.add", fired[0][2], "celery", (2, 2))
    assert app.store.get(fired[0][2]) is not None


def test_headers_a_before_publish_receiver_adds_reach_the_task(app):
    @app.task(name="pub.headers", bind=True)
    def show(self):
        return self.request.headers

    def tag(sender=None, headers=None, **kwargs):
        headers["trace_id"] = f"trace-{headers['id']}"
        headers["id"] = "forged"  # Celery's own header describes the job: kept as it was

    signals.before_task_publish.connect(tag)
    try:
        results = [*app.enqueue_many([(show, ()), (show, ())]), show.delay(), show.apply_async(headers={"a": 1})]
    finally:
        signals.before_task_publish.disconnect(tag)
    drain(app)
    assert [r.get(timeout=5) for r in results[:3]] == [{"trace_id": f"trace-{r.id}"} for r in results[:3]]
    assert results[3].get(timeout=5) == {"a": 1, "trace_id": f"trace-{results[3].id}"}


def test_headers_no_job_can_carry_are_refused_before_anything_is_stored(app):
    add, _ = _tasks(app)

    def bad(sender=None, headers=None, **kwargs):
        headers["when"] = object()

    signals.before_task_publish.connect(bad)
    try:
        with pytest.raises(InvalidOptionError, match="before_task_publish receiver set headers"):
            app.enqueue_many([(add, (1, 1)), (add, (2, 2))])
    finally:
        signals.before_task_publish.disconnect(bad)
    assert app.store.counts() == {}
