"""The store-agnostic tests of tests.test_calling, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.test_calling import (  # noqa: F401
    add,
    app,
    local_time_is_india,
    test_a_non_serialisable_argument_is_named_and_nothing_is_enqueued,
    test_a_reused_task_id_is_refused_clearly_and_the_first_job_is_kept,
    test_a_task_is_still_callable_directly,
    test_an_app_without_a_database_says_how_to_give_one,
    test_an_in_memory_database_is_refused,
    test_an_oversized_payload_is_refused,
    test_args_and_kwargs_reach_the_store_in_order,
    test_aware_eta_is_honoured,
    test_bad_call_options_raise_a_clear_error_and_enqueue_nothing,
    test_countdown_accepts_a_float_and_zero,
    test_countdown_sets_the_eta_that_many_seconds_ahead,
    test_delay_stores_a_queued_job_with_the_arguments,
    test_enqueue_leaves_no_file_behind_when_the_call_is_bad,
    test_expires_takes_seconds_or_a_datetime,
    test_malformed_args_or_kwargs_are_refused,
    test_naive_eta_is_utc_while_enable_utc_and_local_time_otherwise,
    test_option_errors_are_also_value_errors,
    test_priority_comes_from_the_call_then_the_task_then_the_app,
    test_send_task_enqueues_by_name_without_the_function,
    test_task_id_option_names_the_job,
    test_task_options_set_queue_and_name,
    test_the_default_task_name_is_module_dot_function,
    test_unknown_task_decorator_option_is_refused,
)
