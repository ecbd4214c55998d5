"""Celery's task surface: options that once failed at import, base= and Task subclasses with their
hooks, Task.apply(), shared_task, and task_annotations."""

from __future__ import annotations

import logging

import pytest

from litequeue import Celery, Task, shared_task, states
from litequeue.errors import ConfigurationError
from litequeue.testing import drain


@pytest.fixture
def app(db):
    app = Celery("proj", broker=db)
    yield app
    app.close()


def test_common_celery_task_options_are_accepted(app, caplog):
    caplog.set_level(logging.WARNING, "litequeue.task")

    @app.task(retry_kwargs={"max_retries": 5, "countdown": 2}, autoretry_for=(IOError,), track_started=True,
              throws=(KeyError,), typing=True, reject_on_worker_lost=True, shared=False, acks_late=True)
    def fetch(url):
        return url

    assert fetch.retry_policy.max_retries == 5 and fetch.retry_policy.default_retry_delay == 2
    assert fetch.options.throws == (KeyError,)
    assert "Task option shared has no effect" in caplog.text
    with pytest.raises(ConfigurationError, match="retry_kwargs takes max_retries and countdown"):
        app.task(retry_kwargs={"delay": 3})(lambda: None)
    with pytest.raises(ConfigurationError, match="throws must be a tuple of exception classes"):
        app.task(throws=("KeyError",))(lambda: None)


def test_base_class_hooks_run_around_each_attempt_and_its_attributes_are_defaults(app):
    calls = []

    class Audited(app.Task):
        max_retries = 1
        autoretry_for = (ValueError,)
        default_retry_delay = 0

        def before_start(self, task_id, args, kwargs):
            calls.append(("before_start", args))

        def on_success(self, retval, task_id, args, kwargs):
            calls.append(("on_success", retval))

        def on_retry(self, exc, task_id, args, kwargs, einfo):
            calls.append(("on_retry", type(exc).__name__))

        def on_failure(self, exc, task_id, args, kwargs, einfo):
            calls.append(("on_failure", type(exc).__name__, "ValueError" in str(einfo)))

        def after_return(self, status, retval, task_id, args, kwargs, einfo):
            calls.append(("after_return", status))

    @app.task(base=Audited)
    def half(x):
        if x % 2:
            raise ValueError("odd")
        return x // 2

    assert isinstance(half, Audited) and half.max_retries == 1 and half.options.autoretry_for == (ValueError,)
    ok, bad = half.delay(4), half.delay(3)
    drain(app, include_scheduled=True)
    assert ok.get(timeout=1) == 2 and bad.state == states.FAILURE
    assert calls[:3] == [("before_start", (4,)), ("on_success", 2), ("after_return", "SUCCESS")]
    assert ("on_retry", "ValueError") in calls and ("on_failure", "ValueError", True) in calls
    assert calls.count(("after_return", "FAILURE")) == 1 and calls.count(("after_return", "RETRY")) == 1


def test_a_task_reads_back_its_options_as_celerys_attributes_with_celerys_defaults(app):
    @app.task
    def plain(x):
        return x

    defaults = {"rate_limit": None, "time_limit": None, "soft_time_limit": None, "default_retry_delay": 180,
                "serializer": "json", "max_retries": 3, "ignore_result": False, "acks_late": True,
                "track_started": True, "priority": 0, "expires": None, "typing": True, "queue": None,
                "routing_key": None, "reject_on_worker_lost": None, "autoretry_for": (), "dont_autoretry_for": (),
                "retry_kwargs": {}, "retry_backoff": False, "retry_backoff_max": 600, "retry_jitter": True,
                "throws": ()}
    assert {name: getattr(plain, name) for name in defaults} == defaults

    @app.task(rate_limit="10/s", time_limit=30, soft_time_limit=20, default_retry_delay=5, serializer="pickle",
              max_retries=None, ignore_result=True, acks_late=False, track_started=False, priority=9,
              expires=60, typing=False, throws=(KeyError,))
    def declared(x):
        return x

    assert (declared.rate_limit, declared.time_limit, declared.soft_time_limit, declared.default_retry_delay,
            declared.serializer, declared.max_retries, declared.ignore_result, declared.acks_late,
            declared.track_started, declared.priority, declared.expires, declared.typing, declared.throws) == (
        "10/s", 30, 20, 5, "pickle", None, True, False, False, 9, 60, False, (KeyError,))
    with pytest.raises(AttributeError):
        declared.rate_limit = "1/s"  # read-only: declare it, or change it with task_annotations


def test_unset_task_attributes_follow_the_apps_settings(db):
    app = Celery("conf", broker=db, task_serializer="pickle", task_default_rate_limit="5/m",
                 task_default_priority=4, task_acks_late=False, task_ignore_result=True,
                 task_reject_on_worker_lost=True, task_default_max_retries=7)

    @app.task
    def plain(x):
        return x

    assert (plain.serializer, plain.rate_limit, plain.priority, plain.acks_late, plain.ignore_result,
            plain.reject_on_worker_lost, plain.max_retries) == ("pickle", "5/m", 4, False, True, True, 7)
    app.close()


def test_a_base_class_sets_task_attributes(app):
    class Limited(app.Task):
        rate_limit = "2/s"
        time_limit = 10
        serializer = "pickle"

    @app.task(base=Limited)
    def limited(x):
        return x

    assert (limited.rate_limit, limited.time_limit, limited.serializer) == ("2/s", 10, "pickle")
    assert limited.options.rate_limit == "2/s" and limited.options.time_limit == 10


def test_base_must_be_a_task_class(app):
    with pytest.raises(ConfigurationError, match=r"base=\.\.\.\) must be a subclass of app.Task"):
        app.task(base=object)(lambda: None)


def test_apply_runs_here_and_returns_an_eager_result_without_storing(app):
    tries = []

    @app.task(bind=True, autoretry_for=(ConnectionError,), max_retries=2)
    def flaky(self, x):
        tries.append(self.request.retries)
        if len(tries) < 3:
            raise ConnectionError("down")
        return x * 10

    result = flaky.apply((4,))
    assert (result.get(), result.state, result.successful(), tries) == (40, states.SUCCESS, True, [0, 1, 2])
    assert app.store.counts() == {}

    @app.task
    def broken():
        raise KeyError("nope")

    failed = broken.apply()
    assert failed.failed() and isinstance(failed.result, KeyError) and "KeyError" in failed.traceback
    with pytest.raises(KeyError):
        failed.get()
    assert failed.get(propagate=False).args == ("nope",)


def test_shared_tasks_register_with_apps_made_before_and_after_and_send_through_the_current_one(db, tmp_path):
    early = Celery("early", broker=str(tmp_path / "early.sqlite"))

    @shared_task(bind=True)
    def echo(self, value):
        return value

    name = f"{__name__}.echo"
    assert name in early.tasks
    late = Celery("late", broker=db)
    assert name in late.tasks and echo.name == name
    result = echo.delay("hi")  # the current app: the one made last
    assert late.AsyncResult(result.id).job is not None
    drain(late)
    assert result.get(timeout=1) == "hi" and echo("direct") == "direct"
    early.close()
    late.close()


def test_task_annotations_change_options_and_set_hooks(db):
    failures = []

    class Alerts:
        def annotate(self, task):
            if task.name.startswith("annotated."):
                return {"on_failure": lambda *a, **k: failures.append(task.name)}
            return None

    app = Celery("annotated", broker=db, task_annotations=[{"annotated.add": {"max_retries": 7}, "*": {"priority": 3}},
                                                           Alerts()])

    @app.task(name="annotated.add")
    def add(x, y):
        return x + y

    assert (add.max_retries, add.priority) == (7, 3)
    assert add.delay(1, 2).job.priority == 3
    app.close()


def test_a_function_task_on_a_named_base_class_is_named_after_its_function(app):
    class Named(Task):
        name = "base.name"  # as in Celery, a base class's name does not name the tasks made on it

    @app.task(base=Named)
    def f():
        return 1

    assert f.name == f"{__name__}.f" and f.name in app.tasks


def test_a_class_based_task_is_registered_with_register_task_and_runs(app):
    class Multiply(app.Task):
        name = "proj.multiply"
        max_retries = 0

        def run(self, x, y):
            return x * y

    task = app.register_task(Multiply())
    assert app.tasks["proj.multiply"] is task and task.max_retries == 0
    result = task.delay(6, 7)
    with pytest.raises(TypeError, match="missing a required argument: 'y'"):
        task.delay(6)
    drain(app)
    assert result.get(timeout=1) == 42 and task.apply((2, 3)).get() == 6
    with pytest.raises(ConfigurationError, match="defines run"):
        app.register_task(Task)
