"""The store-agnostic tests of tests.test_testing, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.test_testing import (  # noqa: F401
    eager,
    test_drain_of_one_queue_leaves_the_others,
    test_drain_records_failures_as_a_worker_would,
    test_drain_runs_every_due_job_here_and_leaves_future_ones,
    test_eager_call_runs_inline_and_stores_the_result,
    test_eager_failure_is_raised_at_the_call_and_recorded,
    test_eager_failure_is_raised_by_get_not_at_the_call_by_default,
    test_eager_failure_without_propagation_is_raised_from_get,
    test_eager_retries_run_again_at_once_until_they_succeed,
    test_eager_run_marks_the_request_as_eager,
    test_eager_runs_at_once_whatever_the_countdown,
)
