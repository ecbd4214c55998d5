"""The store-agnostic tests of tests.test_opening_stores, run again on PostgreSQL: a read-only app
reads, and refuses to write with an error saying so."""

from tests.test_opening_stores import test_a_readonly_app_reads_and_refuses_to_write_clearly  # noqa: F401
