"""The retry policy on its own (delays, limits, which errors retry) and the retry options
refused where a task is declared or called."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest

from litequeue import MaxRetriesExceededError, Retry
from litequeue.errors import ConfigurationError, InvalidOptionError
from litequeue.retries import RetryPolicy
from litequeue.task import TaskOptions
from tests.support import tasks


def test_without_backoff_every_retry_waits_default_retry_delay():
    policy = RetryPolicy(default_retry_delay=7)
    assert [policy.delay(n) for n in range(4)] == [7, 7, 7, 7]


def test_retry_backoff_true_doubles_from_one_second_up_to_retry_backoff_max():
    policy = RetryPolicy(retry_backoff=True, retry_backoff_max=20, retry_jitter=False)
    assert [policy.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 20, 20]


def test_retry_backoff_in_seconds_is_the_first_delay():
    policy = RetryPolicy(retry_backoff=3, retry_backoff_max=600, retry_jitter=False)
    assert [policy.delay(n) for n in range(4)] == [3, 6, 12, 24]
    assert RetryPolicy(retry_backoff=0.25, retry_jitter=False).delay(2) == 1.0


def test_retry_jitter_picks_delays_no_longer_than_the_backoff():
    random.seed(4)
    policy = RetryPolicy(retry_backoff=10, retry_backoff_max=60, retry_jitter=True)
    for retries, ceiling in ((0, 10), (1, 20), (2, 40), (5, 60)):
        delays = [policy.delay(retries) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 5  # spread out, not one fixed value
    small = [RetryPolicy(retry_backoff=0.5).delay(0) for _ in range(50)]
    assert all(0 <= d <= 0.5 for d in small) and len(set(small)) > 5


def test_max_retries_limits_retries_and_none_means_forever():
    assert [RetryPolicy.may_retry(n, 2) for n in range(4)] == [True, True, False, False]
    assert RetryPolicy.may_retry(10_000, None)
    assert not RetryPolicy.may_retry(0, 0)


def test_autoretry_for_retries_matching_errors_except_those_in_dont_autoretry_for():
    policy = RetryPolicy(autoretry_for=(OSError, LookupError), dont_autoretry_for=(KeyError,))
    assert policy.autoretries(ConnectionError())  # a subclass of OSError
    assert policy.autoretries(IndexError())
    assert not policy.autoretries(KeyError())
    assert not policy.autoretries(ValueError())
    assert not RetryPolicy().autoretries(OSError())  # nothing retries automatically by default


def test_a_task_carries_its_declared_retry_options():
    policy = tasks.backoff_fails.retry_policy
    assert (policy.max_retries, policy.retry_backoff, policy.retry_backoff_max) == (3, 10, 25)
    assert policy.retry_jitter is False
    assert tasks.flaky_forever.max_retries is None
    assert TaskOptions(autoretry_for=OSError).autoretry_for == (OSError,)  # one class is taken as a tuple


@pytest.mark.parametrize("options, problem", [
    ({"max_retries": -1}, "max_retries must be an integer >= 0"),
    ({"max_retries": 1.5}, "max_retries must be an integer >= 0"),
    ({"max_retries": True}, "max_retries must be an integer >= 0"),
    ({"default_retry_delay": -5}, "default_retry_delay must be a number of seconds >= 0"),
    ({"retry_backoff_max": -1}, "retry_backoff_max must be a number of seconds >= 0"),
    ({"retry_backoff": -2}, "retry_backoff must be True, False or seconds >= 0"),
    ({"retry_backoff": "fast"}, "retry_backoff must be True, False or seconds >= 0"),
    ({"retry_jitter": "yes"}, "retry_jitter must be True or False"),
    ({"autoretry_for": ValueError("x")}, "autoretry_for must be a tuple of exception classes"),
    ({"autoretry_for": (int,)}, "autoretry_for must be a tuple of exception classes"),
    ({"autoretry_for": ("OSError",)}, "autoretry_for must be a tuple of exception classes"),
    ({"dont_autoretry_for": [object]}, "dont_autoretry_for must be a tuple of exception classes"),
])
def test_bad_retry_options_are_refused_where_the_task_is_declared(options, problem):
    before = dict(tasks.app.tasks)
    with pytest.raises(ConfigurationError) as raised:
        @tasks.app.task(name="tests.never_registered", **options)
        def never_registered():
            pass
    assert problem in str(raised.value)
    assert "tests.never_registered" in str(raised.value)
    assert tasks.app.tasks == before


def test_retry_called_outside_a_worker_returns_the_retry_with_its_time():
    before = time.time()
    retry = tasks.retry_later.retry(countdown=30, throw=False)
    assert isinstance(retry, Retry)
    assert before + 30 <= retry.when <= time.time() + 30
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert tasks.retry_later.retry(eta=when, throw=False).when == when.timestamp()
    with pytest.raises(Retry):
        tasks.retry_later.retry(countdown=1)


@pytest.mark.parametrize("options, problem", [
    ({"countdown": -1}, "countdown must not be negative"),
    ({"countdown": "soon"}, "countdown must be a number of seconds"),
    ({"countdown": 1, "eta": dt.datetime(2030, 1, 1)}, "either countdown or eta"),
    ({"eta": "tomorrow"}, "eta must be a datetime"),
])
def test_retry_refuses_bad_times(options, problem):
    with pytest.raises(InvalidOptionError, match=problem):
        tasks.retry_later.retry(**options)


def test_retry_past_its_limit_raises_the_exception_or_max_retries_exceeded():
    with pytest.raises(KeyError):
        tasks.retry_later.retry(exc=KeyError("gone"), max_retries=0)
    with pytest.raises(MaxRetriesExceededError, match="max_retries=0"):
        tasks.retry_later.retry(max_retries=0)


@pytest.mark.parametrize("value", [-1, 2.5, "3"])
def test_a_bad_max_retries_on_the_call_is_refused_and_nothing_is_enqueued(app, value):
    with pytest.raises(InvalidOptionError, match="max_retries must be an integer >= 0"):
        tasks.add.apply_async((1, 2), max_retries=value)
    assert app.store.list_jobs() == []
