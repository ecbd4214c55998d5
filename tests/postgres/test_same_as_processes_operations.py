"""The store-agnostic tests of tests.processes.test_operations, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.processes.test_operations import (  # noqa: F401
    test_a_scheduled_job_revoked_while_no_worker_runs_never_runs,
    test_in_process_worker_refuses_an_app_spawned_children_cannot_import,
    test_in_process_worker_start_and_stop_without_a_with_block,
    test_in_process_worker_with_spawned_children_runs_jobs_and_stops_cleanly,
    test_progress_from_update_state_is_read_from_another_process,
    test_revoke_terminate_stops_a_running_job_which_ends_revoked,
)
