"""The store-agnostic tests of tests.test_retry_policy, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.test_retry_policy import (  # noqa: F401
    test_a_bad_max_retries_on_the_call_is_refused_and_nothing_is_enqueued,
    test_a_task_carries_its_declared_retry_options,
    test_autoretry_for_retries_matching_errors_except_those_in_dont_autoretry_for,
    test_bad_retry_options_are_refused_where_the_task_is_declared,
    test_max_retries_limits_retries_and_none_means_forever,
    test_retry_backoff_in_seconds_is_the_first_delay,
    test_retry_backoff_true_doubles_from_one_second_up_to_retry_backoff_max,
    test_retry_called_outside_a_worker_returns_the_retry_with_its_time,
    test_retry_jitter_picks_delays_no_longer_than_the_backoff,
    test_retry_past_its_limit_raises_the_exception_or_max_retries_exceeded,
    test_retry_refuses_bad_times,
    test_without_backoff_every_retry_waits_default_retry_delay,
)
