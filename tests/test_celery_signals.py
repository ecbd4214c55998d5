"""Signals as Celery sends them: connect(sender=, weak=, dispatch_uid=), and the arguments of the
publish, task, worker, beat and logging signals."""

from __future__ import annotations

import gc
import threading

import pytest

from litequeue import Celery, signals, states
from litequeue.beat import Beat
from litequeue.signals import Signal
from litequeue.testing import drain


@pytest.fixture
def app(db):
    app = Celery("sig", broker=db)
    yield app
    app.close()


def test_sender_filters_dispatch_uid_dedupes_and_weak_receivers_go_with_their_owner():
    sig = Signal("demo")
    seen = []

    @sig.connect(sender="tasks.add", dispatch_uid="only-once")
    def on_add(sender=None, **kwargs):
        seen.append(("add", sender))

    sig.connect(on_add, sender="tasks.add", dispatch_uid="only-once")  # the same uid: connected once
    sig.send(sender="tasks.add")
    sig.send(sender="tasks.mul")
    assert seen == [("add", "tasks.add")]

    def scoped():
        def temporary(**kwargs):
            seen.append("weak")

        def kept(**kwargs):
            seen.append("strong")

        sig.connect(temporary)
        sig.connect(kept, weak=False)

    scoped()
    gc.collect()
    seen.clear()
    sig.send(sender="tasks.other")
    assert seen == ["strong"]
    assert sig.disconnect(on_add, sender="tasks.add", dispatch_uid="only-once")
    sig.send(sender="tasks.add")
    assert seen == ["strong", "strong"]


def test_a_task_object_sender_filter_matches_by_task_or_name(app):
    @app.task
    def add(x, y):
        return x + y

    names = []
    receiver = signals.task_prerun.connect(sender=add)(lambda sender=None, **kw: names.append(kw["task_id"]))
    by_name = signals.task_prerun.connect(sender=add.name)(lambda sender=None, **kw: names.append("by name"))
    try:
        result = add.delay(1, 1)
        drain(app)
        assert names == [result.id, "by name"]
    finally:
        signals.task_prerun.disconnect(receiver, sender=add)
        signals.task_prerun.disconnect(by_name, sender=add.name)


def test_publish_signals_carry_celerys_headers_body_and_routing_key(app):
    @app.task
    def add(x, y):
        return x + y

    got = {}

    def before(sender=None, body=None, exchange=None, routing_key=None, headers=None, properties=None,
               declare=None, retry_policy=None, **kwargs):
        got["before"] = (sender, body[:2], routing_key, headers["id"], headers["task"], headers["trace"])

    def after(sender=None, body=None, headers=None, **kwargs):
        got["after"] = headers["id"]

    signals.before_task_publish.connect(before)
    signals.after_task_publish.connect(after)
    try:
        result = add.apply_async((2, 3), headers={"trace": "t-1"})
    finally:
        signals.before_task_publish.disconnect(before)
        signals.after_task_publish.disconnect(after)
    assert got == {"before": (add.name, ((2, 3), {}), "celery", result.id, add.name, "t-1"), "after": result.id}


def test_task_signals_carry_args_and_kwargs(app):
    @app.task
    def divide(x, y=1):
        return x / y

    seen = []

    def postrun(sender=None, task_id=None, task=None, args=None, kwargs=None, retval=None, state=None, **more):
        seen.append(("postrun", args, kwargs, state))

    def failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, traceback=None, einfo=None, **m):
        seen.append(("failure", args, kwargs, type(exception).__name__))

    signals.task_postrun.connect(postrun)
    signals.task_failure.connect(failure)
    try:
        divide.delay(6, y=3)
        divide.delay(1, y=0)
        drain(app)
    finally:
        signals.task_postrun.disconnect(postrun)
        signals.task_failure.disconnect(failure)
    assert seen == [("postrun", (6,), {"y": 3}, states.SUCCESS), ("failure", (1,), {"y": 0}, "ZeroDivisionError"),
                    ("postrun", (1,), {"y": 0}, states.FAILURE)]


def test_a_worker_sends_task_received_and_task_revoked_for_an_expired_job(app):
    @app.task
    def add(x, y):
        return x + y

    events = []

    def received(sender=None, request=None, **kwargs):
        events.append(("received", request.id, request.args))

    def revoked(sender=None, request=None, terminated=None, signum=None, expired=None, **kwargs):
        events.append(("revoked", request.id, expired, sender is add))

    signals.task_received.connect(received)
    signals.task_revoked.connect(revoked)
    try:
        stale = add.apply_async((0, 0), expires=0)
        fresh = add.delay(2, 2)
        with app.worker(concurrency=1, start_method="fork"):
            assert fresh.get(timeout=30) == 4
    finally:
        signals.task_received.disconnect(received)
        signals.task_revoked.disconnect(revoked)
    assert ("revoked", stale.id, True, True) in events and ("received", fresh.id, (2, 2)) in events


def test_the_task_received_request_names_its_task_as_name_and_task_name(app):
    @app.task
    def add(x, y):
        return x + y

    names = []

    def received(sender=None, request=None, **kwargs):
        names.append((request.name, request.task_name, request.task))

    signals.task_received.connect(received)
    try:
        result = add.delay(2, 2)
        with app.worker(concurrency=1, start_method="fork"):
            assert result.get(timeout=30) == 4
    finally:
        signals.task_received.disconnect(received)
    assert names == [(add.name, add.name, add.name)]


def test_beat_sends_beat_init(app):
    started = threading.Event()
    beats = []

    def on_init(sender=None, **kwargs):
        beats.append(sender)
        started.set()

    signals.beat_init.connect(on_init)
    beat = Beat(app, max_interval=0.05)
    thread = threading.Thread(target=beat.run)
    thread.start()
    try:
        assert started.wait(30)
    finally:
        beat.stop()
        thread.join(30)
        signals.beat_init.disconnect(on_init)
    assert beats == [beat]


def test_a_setup_logging_receiver_takes_over_logging_and_after_setup_logger_sees_the_logger():
    from litequeue.cli.common import setup_logging

    calls = []

    def take_over(sender=None, loglevel=None, logfile=None, format=None, colorize=None, **kwargs):  # noqa: A002
        calls.append(("setup_logging", loglevel))

    def adjust(sender=None, logger=None, loglevel=None, **kwargs):
        calls.append(("after_setup_logger", logger.name))

    signals.after_setup_logger.connect(adjust)
    signals.setup_logging.connect(take_over)
    try:
        setup_logging("info")
    finally:
        signals.setup_logging.disconnect(take_over)
        signals.after_setup_logger.disconnect(adjust)
    assert calls == [("setup_logging", "INFO")]  # taken over: nothing set up, nothing to adjust


def test_pool_children_send_worker_process_init_and_shutdown(app, tmp_path):
    import os

    @app.task
    def add(x, y):
        return x + y

    def started(sender=None, **kwargs):
        (tmp_path / f"init-{os.getpid()}").touch()

    def ended(sender=None, pid=None, exitcode=None, **kwargs):
        (tmp_path / f"shutdown-{pid}-{exitcode}").touch()

    signals.worker_process_init.connect(started)
    signals.worker_process_shutdown.connect(ended)
    try:
        with app.worker(concurrency=2, start_method="fork"):
            assert add.delay(1, 1).get(timeout=30) == 2
    finally:
        signals.worker_process_init.disconnect(started)
        signals.worker_process_shutdown.disconnect(ended)
    inits = {p.name.split("-")[1] for p in tmp_path.glob("init-*")}
    assert len(inits) == 2
    assert {p.name for p in tmp_path.glob("shutdown-*")} == {f"shutdown-{pid}-0" for pid in inits}
