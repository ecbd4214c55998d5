"""Signatures: a task call as a plain value (a dict, as in Celery) that can be sent, cloned,
stored as JSON and run locally."""

from __future__ import annotations

import json
import pickle

import pytest

import litequeue
from litequeue import Signature, signature
from litequeue.errors import InvalidOptionError, NotRegistered
from tests.support import canvas_tasks, tasks


def test_a_signature_is_a_dict_with_celerys_keys(app):
    s = tasks.add.s(2, 2)
    assert isinstance(s, dict) and isinstance(s, Signature)
    assert s == {"task": "tests.support.tasks.add", "args": (2, 2), "kwargs": {}, "options": {},
                 "subtask_type": None, "immutable": False, "chord_size": None}
    assert (s.task, s.args, s.kwargs, s.options, s.immutable) == ("tests.support.tasks.add", (2, 2), {}, {}, False)
    assert repr(s) == "tests.support.tasks.add(2, 2)"


def test_json_round_trip_gives_back_an_equal_signature(app):
    s = tasks.add.s(1, y=2).set(countdown=10, queue="hi")
    back = signature(json.loads(json.dumps(s)))
    assert isinstance(back, Signature) and back == s
    assert back.options == {"countdown": 10, "queue": "hi"}
    assert pickle.loads(pickle.dumps(s)) == s


def test_si_is_immutable_and_ignores_arguments_given_later(app):
    s = tasks.add.si(1, 1)
    assert s.immutable
    assert s.clone((5,)).args == (1, 1)
    assert s(7) == 2  # called locally: the 7 is ignored


def test_partial_arguments_are_prepended_and_kwargs_merged_as_in_celery(app):
    s = canvas_tasks.mul.s(2)
    assert s.clone((3,)).args == (3, 2)
    assert tasks.record_value.s(value=1).clone((), {"key": "k"}).kwargs == {"value": 1, "key": "k"}
    assert s.args == (2,)  # clone leaves the original alone


def test_set_updates_options_in_place_and_returns_the_signature(app):
    s = tasks.add.s(1, 2)
    assert s.set(countdown=10, queue="hi") is s
    assert s.options == {"countdown": 10, "queue": "hi"}
    c = s.clone(priority=3)
    assert c.options == {"countdown": 10, "queue": "hi", "priority": 3} and "priority" not in s.options
    assert s.set(immutable=True).immutable


def test_signature_forms(app):
    by_name = signature("tests.support.tasks.add", args=(5, 5), countdown=1)
    assert by_name.args == (5, 5) and by_name.options == {"countdown": 1}
    assert tasks.add.signature((2, 2), countdown=10) == signature(tasks.add, args=(2, 2), countdown=10)
    assert tasks.add.signature((2, 2), {"y": 1}).kwargs == {"y": 1}
    assert tasks.add.subtask((1, 1)).args == (1, 1)
    assert app.signature("tests.support.tasks.add", (1, 1)).args == (1, 1)
    copy = signature(by_name)
    assert copy == by_name and copy is not by_name
    assert litequeue.maybe_signature(None) is None
    assert isinstance(litequeue.maybe_signature(dict(by_name)), Signature)


def test_calling_a_signature_runs_the_task_here(app):
    assert tasks.add.s(2, 2)() == 4
    assert tasks.add.s(2)(3) == 5
    assert signature("tests.support.tasks.add", args=(1,), app=app)(1) == 2
    assert tasks.add.s(2, 2).apply() == 4


def test_bad_signatures_fail_clearly(app):
    with pytest.raises(InvalidOptionError, match="args must be a list or tuple"):
        signature("tests.support.tasks.add", args=5)
    with pytest.raises(InvalidOptionError, match="not a signature|Not a signature"):
        signature({"args": [1]})
    with pytest.raises(NotRegistered):
        signature("no.such.task")()


def test_delay_and_apply_async_send_the_call(app, run_burst):
    r1 = tasks.add.s(2, 2).delay()
    r2 = tasks.add.s(2).delay(3)
    r3 = signature("tests.support.tasks.add", args=(5, 5), app=app).delay()
    r4 = tasks.add.s(1, 2).set(queue="hi", priority=5).apply_async()
    r5 = tasks.add.s(1).apply_async((10,), priority=1)
    s = tasks.add.si(1, 1)
    r6 = s.delay(100)
    assert app.store.get(r4.id).queue == "hi" and app.store.get(r4.id).priority == 5
    assert app.store.get(r5.id).priority == 1
    run_burst("-Q", f"{app.conf.task_default_queue},hi")
    assert [r.get(timeout=10) for r in (r1, r2, r3, r4, r5, r6)] == [4, 5, 10, 3, 11, 2]


def test_freeze_fixes_the_task_id_it_is_sent_with(app, run_burst):
    s = tasks.add.s(1, 1)
    frozen = s.freeze()
    assert s.id == frozen.id
    assert s.delay().id == frozen.id
    run_burst()
    assert frozen.get(timeout=10) == 2


def test_a_signature_passed_as_an_argument_arrives_as_a_dict(app, run_burst):
    r = tasks.echo.delay(tasks.add.s(1, 2).set(countdown=3))
    run_burst()
    value = r.get(timeout=10)
    assert signature(value) == tasks.add.s(1, 2).set(countdown=3)
