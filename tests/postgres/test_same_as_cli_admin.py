"""The store-agnostic tests of tests.test_cli_admin, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.test_cli_admin import (  # noqa: F401
    known_store,
    test_a_missing_database_is_a_one_line_error_and_is_not_created,
    test_call_with_bad_json_is_a_one_line_error_and_sends_nothing,
    test_inspect_answers_celerys_questions,
    test_purge_asks_first_and_deletes_only_waiting_jobs,
    test_result_of_an_unknown_id_is_a_one_line_error,
    test_result_shows_a_running_jobs_progress,
    test_revoke_of_a_replaced_job_says_its_replacements_last_job_will_not_run,
    test_revoke_reports_each_job_and_refuses_unknown_ids,
    test_status_json_reports_each_queue_and_worker_as_the_store_holds_them,
    test_status_table_shows_lost_workers_and_progress,
)
