"""The store-agnostic test of tests.test_status_stats, run again on PostgreSQL (``db`` is a URL: see conftest)."""

from tests.test_status_stats import test_the_queue_table_agrees_with_a_full_scan_of_the_table  # noqa: F401
