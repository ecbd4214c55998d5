"""Celery's checks at the call: arguments against the task's signature (typing=True), headers."""

from __future__ import annotations

import pytest

from litequeue import Celery
from litequeue.errors import InvalidOptionError


@pytest.fixture
def app(db):
    app = Celery("calls", broker=db)
    yield app
    app.close()


def test_a_call_whose_arguments_do_not_fit_is_a_type_error_and_nothing_is_sent(app):
    @app.task
    def add(x, y):
        return x + y

    with pytest.raises(TypeError, match=r"calls\.add\(x, y\): missing a required argument: 'y'"):
        add.delay(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        add.apply_async((1, 2), {"z": 3})
    assert app.store.counts() == {}
    add.delay(1, y=2)
    assert sum(app.store.counts().values()) == 1


def test_bound_tasks_are_checked_without_self_and_typing_false_skips_the_check(app):
    @app.task(bind=True)
    def bound(self, x):
        return x

    @app.task(typing=False)
    def loose(x):
        return x

    bound.delay(1)
    with pytest.raises(TypeError):
        bound.delay()
    loose.delay(1, 2, 3)  # sent as asked; the worker will report the error
    assert app.send_task("calls.loose", ()).id  # by name, never checked (the task may live elsewhere)


def test_defaults_varargs_and_required_keywords_are_checked_as_a_call_would_be(app):
    @app.task
    def ranged(a, b=2, *rest, **extra):
        return a

    @app.task
    def keyed(a, *, mode):
        return a

    ranged.delay(1)
    ranged.delay(1, 2, 3, 4, x=5)
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        ranged.delay()
    keyed.delay(1, mode="x")
    with pytest.raises(TypeError, match="missing a required argument: 'mode'"):
        keyed.delay(1)


def test_headers_must_be_plain_data(app):
    @app.task
    def noop():
        return None

    with pytest.raises(InvalidOptionError, match="headers must be a dict"):
        noop.apply_async(headers=["x"])
    with pytest.raises(InvalidOptionError, match="headers must hold plain data"):
        noop.apply_async(headers={"when": object()})
