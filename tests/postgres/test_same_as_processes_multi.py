"""The store-agnostic tests of tests.processes.test_multi, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.processes.test_multi import (  # noqa: F401
    multi,
    test_multi_start_refuses_a_running_name_and_cleans_up_a_stale_pidfile,
    test_multi_start_reports_a_worker_that_exits_at_start,
    test_multi_start_two_workers_run_jobs_and_stopwait_ends_them,
)
