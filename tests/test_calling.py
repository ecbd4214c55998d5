"""Calling tasks: delay / apply_async / send_task turn a call into exactly the job asked for, and
bad input fails at the caller with a clear error, enqueuing nothing."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest

from litequeue import AsyncResult, LiteQueue, states
from litequeue.errors import (
    ConfigurationError,
    InvalidOptionError,
    LiteQueueError,
    SerializationError,
)


@pytest.fixture
def app(tmp_path):
    app = LiteQueue(tmp_path / "calls.sqlite")
    yield app
    app.close()


@pytest.fixture
def add(app):
    @app.task
    def add(x, y):
        return x + y

    return add


def stored(app, result: AsyncResult):
    job = app.store.get(result.id)
    assert job is not None
    return job


def job_count(app) -> int:
    return sum(app.store.counts().values())


@pytest.fixture
def local_time_is_india(monkeypatch):
    """Local time five and a half hours ahead of UTC, so local and UTC readings differ."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# -- what a call stores ---------------------------------------------------------------------------


def test_the_default_task_name_is_module_dot_function(add):
    assert add.name == f"{__name__}.add"


def test_a_task_is_still_callable_directly(add):
    assert add(2, 3) == 5


def test_delay_stores_a_queued_job_with_the_arguments(app, add):
    r = add.delay(2, y=3)
    job = stored(app, r)
    assert isinstance(r, AsyncResult)
    assert (job.task, job.state, job.queue, job.priority) == (add.name, states.QUEUED, "celery", 0)
    assert job.eta is None and job.expires is None
    assert r.job_state == states.QUEUED


def test_send_task_enqueues_by_name_without_the_function(app):
    r = app.send_task("somewhere.else.resize", args=[640], kwargs={"height": 480}, queue="images", priority=2)
    job = stored(app, r)
    assert (job.task, job.queue, job.priority) == ("somewhere.else.resize", "images", 2)


def test_task_id_option_names_the_job(app, add):
    task_id = str(uuid.uuid4())
    r = add.apply_async((1, 2), task_id=task_id)
    assert r.id == task_id and stored(app, r).task_id == task_id


def test_countdown_sets_the_eta_that_many_seconds_ahead(app, add):
    before = time.time()
    job = stored(app, add.apply_async((1, 2), countdown=30))
    assert before + 30 <= job.eta <= time.time() + 30
    assert app.store.counts() == {("celery", "SCHEDULED"): 1}


def test_countdown_accepts_a_float_and_zero(app, add):
    before = time.time()
    job = stored(app, add.apply_async((1, 2), countdown=0.25))
    assert before + 0.25 <= job.eta <= time.time() + 0.25
    assert stored(app, add.apply_async((1, 2), countdown=0)).eta is not None


def test_naive_eta_is_utc_while_enable_utc_and_local_time_otherwise(app, add, local_time_is_india):
    eta = dt.datetime(2031, 3, 4, 12, 0, 0)
    job = stored(app, add.apply_async((1, 2), eta=eta, expires=eta + dt.timedelta(hours=1)))
    assert job.eta == dt.datetime(2031, 3, 4, 12, 0, tzinfo=dt.UTC).timestamp()  # as Celery reads it
    assert job.expires == dt.datetime(2031, 3, 4, 13, 0, tzinfo=dt.UTC).timestamp()
    app.conf.enable_utc = False
    try:
        job = stored(app, add.apply_async((1, 2), eta=eta))
    finally:
        app.conf.enable_utc = True
    assert job.eta == dt.datetime(2031, 3, 4, 6, 30, tzinfo=dt.UTC).timestamp()  # noon in India


def test_aware_eta_is_honoured(app, add, local_time_is_india):
    eta = dt.datetime(2031, 3, 4, 12, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    job = stored(app, add.apply_async((1, 2), eta=eta))
    assert job.eta == dt.datetime(2031, 3, 4, 17, 0, tzinfo=dt.UTC).timestamp()


def test_expires_takes_seconds_or_a_datetime(app, add):
    before = time.time()
    in_seconds = stored(app, add.apply_async((1, 2), expires=60))
    assert before + 60 <= in_seconds.expires <= time.time() + 60
    when = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert stored(app, add.apply_async((1, 2), expires=when)).expires == when.timestamp()


def test_priority_comes_from_the_call_then_the_task_then_the_app(app):
    @app.task(priority=7)
    def urgent():
        return None

    @app.task
    def plain():
        return None

    assert stored(app, urgent.delay()).priority == 7
    assert stored(app, urgent.apply_async(priority=-3)).priority == -3
    app.conf.task_default_priority = 2
    assert stored(app, plain.delay()).priority == 2


def test_task_options_set_queue_and_name(app):
    @app.task(name="reports.build", queue="reports", ignore_result=True)
    def build():
        return None

    job = stored(app, build.delay())
    assert (job.task, job.queue, job.ignore_result) == ("reports.build", "reports", True)
    assert app.tasks["reports.build"] is build


def test_unknown_task_decorator_option_is_refused(app):
    with pytest.raises(ConfigurationError, match="Unknown @app.task option"):
        @app.task(retires=3)
        def f():
            return None


def test_args_and_kwargs_reach_the_store_in_order(app, add):
    from litequeue import serialization

    job = stored(app, app.send_task(add.name, (1, (2, 3)), {"z": dt.date(2024, 1, 1)}))  # by name: unchecked
    args, kwargs = serialization.loads(job.body, job.content_type, frozenset({job.content_type}))
    assert args == [1, (2, 3)] and kwargs == {"z": dt.date(2024, 1, 1)}


# -- bad input: a clear error, nothing enqueued ------------------------------------------------------

BAD_OPTIONS = {
    "negative countdown": ({"countdown": -1}, "countdown must not be negative"),
    "countdown not a number": ({"countdown": "10"}, "countdown must be a number"),
    "infinite countdown": ({"countdown": float("inf")}, "finite"),
    "eta and countdown together": ({"eta": dt.datetime(2031, 1, 1), "countdown": 5}, "either countdown or eta"),
    "eta given as seconds": ({"eta": 30}, "eta must be a datetime"),
    "eta given as a string": ({"eta": "2031-01-01"}, "eta must be a datetime"),
    "negative expires": ({"expires": -5}, "expires must not be negative"),
    "expires as a string": ({"expires": "tomorrow"}, "expires must be a number"),
    "unknown option": ({"countdwn": 5}, "Unknown option.*countdwn"),
    "priority as a string": ({"priority": "high"}, "priority must be an integer"),
    "priority as a float": ({"priority": 1.5}, "priority must be an integer"),
    "priority as a bool": ({"priority": True}, "priority must be an integer"),
    "priority too large for the store": ({"priority": 2**70}, "priority must be an integer .* to 2147483647"),
    "acks_late not a bool": ({"acks_late": "yes"}, "acks_late must be True or False"),
    "ignore_result not a bool": ({"ignore_result": 1}, "ignore_result must be True or False"),
    "negative time_limit": ({"time_limit": -1}, "time_limit must not be negative.*positive number"),
    "empty queue name": ({"queue": ""}, "queue"),
    "unknown serializer": ({"serializer": "yaml"}, "serializer"),
}


@pytest.mark.parametrize("options, message", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_call_options_raise_a_clear_error_and_enqueue_nothing(app, add, options, message):
    add.delay(0, 0)  # the store exists and holds one job
    with pytest.raises(LiteQueueError, match=message):
        add.apply_async((1, 2), **options)
    with pytest.raises(LiteQueueError, match=message):
        app.send_task(add.name, args=[1, 2], **options)
    assert job_count(app) == 1


def test_a_reused_task_id_is_refused_clearly_and_the_first_job_is_kept(app, add):
    first = add.apply_async((1, 2), task_id="invoice-42")
    with pytest.raises(LiteQueueError, match="task_id already exists"):
        add.apply_async((3, 4), task_id="invoice-42")
    assert job_count(app) == 1
    assert stored(app, first).body == stored(app, AsyncResult("invoice-42", app=app)).body


def test_option_errors_are_also_value_errors(add):
    with pytest.raises(ValueError):
        add.apply_async((1, 2), countdown=-1)
    with pytest.raises(InvalidOptionError):
        add.apply_async((1, 2), countdown=-1)


def test_a_non_serialisable_argument_is_named_and_nothing_is_enqueued(app, add):
    add.delay(0, 0)
    lock_type = type(_lock()).__name__
    with pytest.raises(SerializationError, match=rf"argument 1 \({lock_type}\)"):
        add.delay(1, _lock())
    with pytest.raises(SerializationError, match=rf"keyword argument 'y' \({lock_type}\)"):
        add.delay(1, y=_lock())
    with pytest.raises(SerializationError, match="serializer='pickle'"):
        add.delay({"nested": [object()]}, 1)
    assert job_count(app) == 1


def _lock():
    import threading

    return threading.Lock()


@pytest.mark.parametrize("args, kwargs, message", [
    ("not a list", None, "args .* must be a list or tuple"),
    ([], [1, 2], "kwargs .* must be a dict"),
    ([], {1: 2}, "kwargs .* string keys"),
])
def test_malformed_args_or_kwargs_are_refused(app, args, kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        app.send_task("a.task", args=args, kwargs=kwargs)
    assert job_count(app) == 0


def test_an_oversized_payload_is_refused(app, add):
    app.conf.task_max_payload_bytes = 1000
    with pytest.raises(SerializationError, match="task_max_payload_bytes"):
        add.delay("x" * 2000, 1)
    assert job_count(app) == 0


def test_an_app_without_a_database_says_how_to_give_one(add):
    bare = LiteQueue()
    with pytest.raises(ConfigurationError, match="LiteQueue\\('app.sqlite'\\)"):
        bare.send_task("a.task")


def test_an_in_memory_database_is_refused():
    with pytest.raises(ConfigurationError, match="in-memory"):
        LiteQueue(":memory:").send_task("a.task")


def test_enqueue_leaves_no_file_behind_when_the_call_is_bad(tmp_path):
    path = tmp_path / "untouched.sqlite"
    app = LiteQueue(path)
    with pytest.raises(LiteQueueError):
        app.send_task("a.task", countdown=-1)
    assert not os.path.exists(path)


# -- delay() reuses what it worked out from the settings, until they change --------------------------


def test_delay_sees_settings_changed_between_calls(app, add):
    first = stored(app, add.delay(1, 2))
    assert (first.queue, first.priority, first.max_retries, first.acks_late) == ("celery", 0, 3, True)
    app.conf.task_default_priority = 5
    app.conf.task_default_queue = "elsewhere"
    app.conf.task_default_max_retries = 7
    app.conf.task_acks_late = False
    second = stored(app, add.delay(1, 2))
    assert (second.queue, second.priority, second.max_retries, second.acks_late) == ("elsewhere", 5, 7, False)
    app.conf.update(task_serializer="pickle", accept_content=["json", "pickle"])
    assert stored(app, add.delay(1, 2)).content_type == "application/x-python-serialize"


def test_delay_sees_a_route_table_edited_in_place(app, add):
    app.conf.task_routes = {"other.task": {"queue": "other"}}
    assert stored(app, add.delay(1, 2)).queue == "celery"
    app.conf.task_routes[add.name] = {"queue": "sums"}  # no assignment: the same dict, edited
    assert stored(app, add.delay(1, 2)).queue == "sums"


def test_delay_sees_a_task_given_new_options(app, add):
    from dataclasses import replace

    assert stored(app, add.delay(1, 2)).priority == 0
    add.options = replace(add.options, priority=9, queue="urgent")
    job = stored(app, add.delay(1, 2))
    assert (job.priority, job.queue) == (9, "urgent")


def test_every_delay_gets_its_own_id_and_time(app, add):
    results = [add.delay(i, i) for i in range(50)]
    assert len({r.id for r in results}) == 50
    jobs = [stored(app, r) for r in results]
    assert all(a.created_at <= b.created_at for a, b in zip(jobs, jobs[1:], strict=False))


def test_a_task_with_a_default_expiry_gets_it_counted_from_each_call(app):
    @app.task(expires=30)
    def fleeting():
        return None

    first = stored(app, fleeting.delay())
    time.sleep(0.05)
    second = stored(app, fleeting.delay())
    assert second.expires - first.expires >= 0.05
    assert abs(second.expires - (second.created_at + 30)) < 1


def test_a_call_with_only_a_task_id_reuses_the_template_and_still_checks_the_id(app, add):
    add.delay(1, 1)
    job = stored(app, add.apply_async((1, 2), task_id="mine-1"))
    assert (job.task_id, job.body) == ("mine-1", b"[[1,2],{}]")
    with pytest.raises(InvalidOptionError, match="task_id"):
        add.apply_async((1, 2), task_id="")
    assert stored(app, add.apply_async((1, 2), task_id=None)).task_id != "mine-1"


def test_a_task_known_under_a_second_name_keeps_each_name(app, add):
    app.tasks["old.add"] = add  # the usual way to keep an old name while renaming
    assert stored(app, add.delay(1, 2)).task == add.name
    assert stored(app, app.send_task("old.add", (1, 2))).task == "old.add"
    assert stored(app, add.delay(1, 2)).task == add.name


def test_another_app_sending_the_same_task_uses_its_own_settings(app, add, tmp_path):
    other = LiteQueue(tmp_path / "other.sqlite", task_default_queue="elsewhere")
    try:
        assert stored(app, add.delay(1, 2)).queue == "celery"
        assert stored(other, other.send_task(add.name, (1, 2), _task=add)).queue == "elsewhere"
        assert stored(app, add.delay(1, 2)).queue == "celery"
    finally:
        other.close()


def test_a_task_subclass_and_a_patched_apply_async_are_honoured(app):
    from unittest import mock

    from litequeue.task import Task

    class Rising(Task):
        level = 0

        @property
        def priority(self):
            Rising.level += 1
            return Rising.level

    @app.task
    def plain():
        return None

    rising = Rising(app, plain.fun, plain.options)
    assert [stored(app, rising.delay()).priority for _ in range(3)] == [1, 2, 3]
    with mock.patch.object(plain, "apply_async") as patched:
        plain.delay(5)
    patched.assert_called_once_with((5,), {})
