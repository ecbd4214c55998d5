"""The store-agnostic tests of tests.processes.test_core, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.processes.test_core import (  # noqa: F401
    machine_behind_utc,
    test_a_worker_without_an_app_imports_tasks_by_name_only_when_asked,
    test_an_idle_worker_is_woken_by_a_new_job_without_polling,
    test_arguments_and_results_round_trip_through_a_worker,
    test_bound_task_sees_its_request,
    test_burst_worker_leaves_future_jobs_queued,
    test_celery_style_options_work_and_the_app_names_the_database,
    test_countdown_job_does_not_run_before_its_time_and_runs_soon_after,
    test_delay_then_get_returns_the_result_from_a_running_worker,
    test_eta_job_runs_at_its_eta_naive_is_utc,
    test_expired_job_is_revoked_and_never_runs,
    test_failing_task_ends_in_failure_with_type_message_and_traceback,
    test_forget_deletes_the_result,
    test_get_on_a_revoked_job_raises_task_revoked_error,
    test_get_reraises_the_users_own_exception_class,
    test_get_with_a_timeout_raises_timeout_error,
    test_higher_priority_runs_first_within_a_queue,
    test_ignore_result_stores_no_value,
    test_job_that_expires_while_waiting_for_its_eta_never_runs,
    test_pickled_job_is_refused_by_a_worker_that_does_not_accept_pickle,
    test_pickled_job_runs_on_a_worker_that_accepts_pickle,
    test_result_states_and_date_done,
    test_send_task_by_name_runs_the_registered_task,
    test_sigterm_during_a_long_job_lets_it_finish_and_exits_zero,
    test_unknown_task_fails_clearly_and_the_worker_carries_on,
    test_version_prints_the_version,
    test_worker_on_a_file_that_is_not_a_database_is_a_one_line_error,
    test_worker_on_a_missing_directory_is_a_one_line_error,
    test_worker_prunes_results_older_than_result_expires,
    test_worker_without_a_database_or_app_is_a_one_line_usage_error,
)
