"""The store-agnostic tests of tests.test_flow and tests.test_released_starts, run again on
PostgreSQL (``db`` is a URL: see conftest)."""

from tests.test_flow import (  # noqa: F401
    test_a_beat_fire_of_a_unique_task_enqueues_once_while_the_first_counts,
    test_a_claim_takes_at_most_its_limited_room_of_rate_limited_jobs,
    test_a_claim_that_allows_later_starts_spaces_its_grants_by_as_much_more,
    test_a_concurrency_key_holds_back_jobs_of_a_busy_key_only_and_keeps_their_order,
    test_a_concurrency_key_that_fails_refuses_the_call_and_enqueues_nothing,
    test_a_duplicate_unique_job_returns_the_first_jobs_result_and_enqueues_nothing,
    test_a_failed_or_revoked_unique_job_no_longer_counts,
    test_a_job_reached_too_late_after_its_granted_start_is_put_back_not_begun,
    test_a_limit_removed_from_the_code_stops_applying_when_a_worker_starts,
    test_a_queue_rate_limit_holds_back_that_queue_only,
    test_a_rate_limited_task_starts_one_job_per_interval_and_others_pass_it,
    test_a_rate_set_at_run_time_applies_at_the_next_claim_and_can_be_reset,
    test_a_running_or_succeeded_unique_job_counts_until_its_window_ends,
    test_a_start_handed_back_unrun_is_given_back_so_a_slow_rate_costs_no_period,
    test_a_start_is_not_given_back_once_a_later_one_was_granted,
    test_a_store_without_limits_claims_with_the_one_statement_of_before,
    test_a_task_concurrency_and_a_queue_concurrency_cap_running_jobs,
    test_an_expired_lease_gives_the_slot_back_when_rescued_not_before,
    test_keyword_order_does_not_make_a_call_unique_and_a_call_may_ask_for_uniqueness,
    test_starts_granted_a_moment_ahead_are_kept_by_the_child_that_runs_them,
    test_status_inspect_and_json_say_which_jobs_are_held_back_and_why,
    test_the_control_command_sets_and_resets_a_rate_limit_for_every_worker,
    test_the_start_a_rate_limit_granted_is_kept_after_the_job_ran_and_only_for_rated_jobs,
    test_unique_jobs_inside_a_transaction_and_in_bulk,
)
from tests.test_released_starts import (  # noqa: F401
    test_a_claim_whose_pool_process_died_before_beginning_it_gives_its_start_back,
    test_a_job_that_may_have_begun_keeps_its_start_counted,
    test_a_start_granted_before_the_rate_changed_is_kept,
    test_a_start_is_kept_when_a_later_one_was_granted_after_it,
    test_a_stop_releasing_a_job_it_never_began_gives_its_start_back,
    test_a_warm_stop_gives_back_the_start_of_a_job_it_had_claimed_ahead,
)
