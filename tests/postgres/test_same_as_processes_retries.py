"""The store-agnostic tests of tests.processes.test_retries, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.processes.test_retries import (  # noqa: F401
    test_a_job_that_kills_its_worker_process_counts_against_max_retries,
    test_a_task_failing_twice_then_succeeding_ends_success_with_two_retries_and_their_history,
    test_dont_autoretry_for_fails_at_once_while_other_errors_retry,
    test_exhausted_retries_end_failure_and_get_reraises_the_original_exception,
    test_failed_lists_failed_jobs_and_retry_runs_one_again_keeping_its_history,
    test_max_retries_none_retries_until_the_task_succeeds_keeping_the_last_ten_attempts,
    test_reject_with_requeue_puts_the_job_back_to_run_again,
    test_reject_without_requeue_ends_failure_with_the_reason_and_no_retry,
    test_retry_all_and_retry_task_requeue_the_matching_failed_jobs,
    test_retry_jitter_schedules_the_retry_no_later_than_the_backoff,
    test_retry_refuses_unknown_ids_and_missing_arguments,
    test_self_retry_honours_a_max_retries_given_when_the_job_was_sent,
    test_self_retry_past_max_retries_reraises_the_given_exception,
    test_self_retry_past_max_retries_without_an_exception_raises_max_retries_exceeded,
    test_task_retry_and_task_failure_signals_fire_in_the_worker,
)
