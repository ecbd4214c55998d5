"""Rate limits through ``task_annotations`` and Celery's rate settings, as Celery reads them: the
dict form (a task's name, or ``"*"``), a list of entries, annotation classes (an instance, or its
import name) and, litequeue's extra, a plain function of the task. Which entries apply is Celery's
rule (the first entry naming the task, then the first with ``"*"``, which wins where both set a
key), and annotations win over the decorator. Real-worker checks: tests/processes/test_flow.py."""

from __future__ import annotations

import pytest

from litequeue import Celery, LiteQueue
from litequeue.errors import ConfigurationError
from litequeue.flow import code_limits
from litequeue.testing import drain


class HalfSpeed:
    """An annotation class: a rate for tasks whose name ends in "slow", and one for every task."""

    def annotate(self, task):
        return {"rate_limit": "5/s"} if task.name.endswith("slow") else None

    def annotate_any(self):
        return {"priority": 4}


def done(app) -> None:
    """Close ``app`` and forget it: an app lives on in the list shared tasks register with, and
    its annotations would apply to the tasks of later tests."""
    from litequeue.app import _apps

    app.conf.task_annotations = None
    app.close()
    _apps.remove(app)


def rates(app) -> dict[str, str | None]:
    """The rate each task of ``app`` declares to the store, by task name (as a worker declares it)."""
    declared, known = code_limits(app)
    return {name[5:]: declared.get(name, (None,))[0] for name in known if name.startswith("task:t.")}


def make_app(db, annotations, **conf):
    app = LiteQueue(db)
    for key, value in conf.items():
        setattr(app.conf, key, value)

    @app.task(name="t.plain")
    def plain():
        return 1

    @app.task(name="t.slow", rate_limit="100/s")
    def slow():
        return 2

    app.conf.task_annotations = annotations  # after the tasks, as a settings module loaded later does
    app.finalize()
    return app


@pytest.mark.parametrize(("annotations", "expected"), [
    ({"t.plain": {"rate_limit": "10/s"}}, {"t.plain": "10/s", "t.slow": "100/s"}),
    ({"*": {"rate_limit": "7/m"}}, {"t.plain": "7/m", "t.slow": "7/m"}),
    # a list: the first entry naming the task applies, later ones naming it do not
    ([{"t.other": {"rate_limit": "1/s"}}, {"t.plain": {"rate_limit": "3/s"}}, {"t.plain": {"rate_limit": "9/s"}}],
     {"t.plain": "3/s", "t.slow": "100/s"}),
    # "*" applies after the entry naming the task, so it wins where both set the rate (Celery's order)
    ({"t.plain": {"rate_limit": "3/s"}, "*": {"rate_limit": "2/s"}}, {"t.plain": "2/s", "t.slow": "2/s"}),
    ([HalfSpeed()], {"t.plain": None, "t.slow": "5/s"}),
    (["tests.test_flow_annotations.HalfSpeed"], {"t.plain": None, "t.slow": "5/s"}),
    ([lambda task: {"rate_limit": "1/h"} if task.name == "t.plain" else None], {"t.plain": "1/h", "t.slow": "100/s"}),
])
def test_task_annotations_set_rate_limits_in_every_form_celery_accepts(db, annotations, expected):
    app = make_app(db, annotations)
    assert rates(app) == expected
    done(app)


def test_an_annotation_class_gives_its_any_part_to_every_task(db):
    app = make_app(db, HalfSpeed())
    assert app.tasks["t.plain"].priority == 4 and app.tasks["t.slow"].priority == 4
    done(app)


def test_task_default_rate_limit_applies_to_tasks_without_one_and_annotations_win_over_it(db):
    app = make_app(db, {"t.plain": {"rate_limit": "3/s"}}, task_default_rate_limit="20/m")

    @app.task(name="t.third")
    def third():
        return 3

    assert rates(app) == {"t.plain": "3/s", "t.slow": "100/s", "t.third": "20/m"}
    with pytest.raises(ConfigurationError, match="is not a rate limit"):
        app.conf.task_default_rate_limit = "10/x"
    done(app)


def test_worker_disable_rate_limits_declares_no_rate_from_the_code(db):
    app = make_app(db, {"t.plain": {"rate_limit": "3/s"}}, worker_disable_rate_limits=True)
    assert rates(app) == {"t.plain": None, "t.slow": None}
    done(app)


def test_celery_rate_settings_are_read_under_their_celery_names(db):
    app = Celery("names", broker=db)
    try:
        app.config_from_object({"CELERY_DEFAULT_RATE_LIMIT": "4/s", "CELERY_DISABLE_RATE_LIMITS": False})
        assert (app.conf.task_default_rate_limit, app.conf.worker_disable_rate_limits) == ("4/s", False)
    finally:
        done(app)


def test_an_annotated_hook_is_a_method_of_that_task_only_and_at_keys_wrap_methods(db):
    """As in Celery: a function given for a hook gets the task as ``self``; ``"@name"`` wraps a
    method; other tasks of the same class keep theirs."""
    seen = []

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        seen.append((self.name, type(exc).__name__))

    def logged(method):
        def run(self, *args, **kwargs):
            seen.append(("run", self.name))
            return method(self, *args, **kwargs)
        return run

    app = LiteQueue(db)
    app.conf.task_annotations = {"t.fails": {"on_failure": on_failure, "@run": logged}}

    @app.task(name="t.fails")
    def fails():
        raise KeyError("x")

    @app.task(name="t.fine")
    def fine():
        raise KeyError("y")

    fails.delay(), fine.delay()
    drain(app)
    assert seen == [("run", "t.fails"), ("t.fails", "KeyError")]
    app.finalize()  # annotating again wraps the original, not the wrapper
    fails.apply()
    assert seen[2:] == [("run", "t.fails"), ("t.fails", "KeyError")]
    done(app)


@pytest.mark.parametrize(("annotations", "message"), [
    ([42], "must be dicts, objects with annotate"),
    ({"*": {"@no_such_method": lambda m: m}}, "has no method 'no_such_method'"),
    ({"*": {"@run": 5}}, "must give a function"),
    ({"*": {"rate_limit": "fast"}}, "is not a rate limit"),
])
def test_bad_annotations_are_refused_naming_the_fix(db, annotations, message):
    app = LiteQueue(db)
    app.conf.task_annotations = annotations
    try:
        with pytest.raises(ConfigurationError, match=message):
            @app.task(name="t.any")
            def any_task():
                return 1
    finally:
        done(app)
