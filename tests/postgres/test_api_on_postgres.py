"""The store-agnostic API and process tests of the SQLite tiers, run again on PostgreSQL.

They are imported, not copied: the same test functions, with ``db`` a PostgreSQL URL (see this
tier's conftest). Tests that read the SQLite file directly stay in their own tier.
"""

from tests.processes.test_core import (  # noqa: F401
    test_arguments_and_results_round_trip_through_a_worker,
    test_bound_task_sees_its_request,
    test_burst_worker_leaves_future_jobs_queued,
    test_countdown_job_does_not_run_before_its_time_and_runs_soon_after,
    test_delay_then_get_returns_the_result_from_a_running_worker,
    test_expired_job_is_revoked_and_never_runs,
    test_failing_task_ends_in_failure_with_type_message_and_traceback,
    test_forget_deletes_the_result,
    test_get_on_a_revoked_job_raises_task_revoked_error,
    test_get_reraises_the_users_own_exception_class,
    test_get_with_a_timeout_raises_timeout_error,
    test_higher_priority_runs_first_within_a_queue,
    test_ignore_result_stores_no_value,
    test_job_that_expires_while_waiting_for_its_eta_never_runs,
    test_result_states_and_date_done,
    test_send_task_by_name_runs_the_registered_task,
    test_unknown_task_fails_clearly_and_the_worker_carries_on,
)
from tests.processes.test_retries import (  # noqa: F401
    test_a_job_that_kills_its_worker_process_counts_against_max_retries,
    test_a_task_failing_twice_then_succeeding_ends_success_with_two_retries_and_their_history,
    test_dont_autoretry_for_fails_at_once_while_other_errors_retry,
    test_exhausted_retries_end_failure_and_get_reraises_the_original_exception,
    test_reject_with_requeue_puts_the_job_back_to_run_again,
    test_task_retry_and_task_failure_signals_fire_in_the_worker,
)
