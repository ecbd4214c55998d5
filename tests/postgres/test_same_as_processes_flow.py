"""The flow-control process scenarios of tests.processes.test_flow, run again on PostgreSQL."""

from tests.processes.test_flow import (  # noqa: F401
    test_a_child_that_reached_its_job_late_gives_the_start_back_and_it_runs_at_once,
    test_a_killed_workers_concurrency_slot_comes_back_when_its_lease_is_rescued,
    test_a_rate_limit_is_never_exceeded_across_two_workers,
    test_concurrency_limits_hold_per_key_task_and_queue_across_two_workers,
    test_eight_racing_producers_create_one_unique_job,
    test_rate_limits_from_task_annotations_hold_across_two_workers_and_win_over_the_decorator,
)
