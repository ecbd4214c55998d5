"""The store-agnostic tests of tests.test_store_monitor and tests.test_cli_truth, run again on PostgreSQL."""

from tests.test_cli_truth import (  # noqa: F401
    test_call_takes_eta_countdown_and_expires,
    test_jobs_done_since_the_last_heartbeat_count_at_once,
    test_result_json_shows_the_job_with_iso_times,
    test_revoke_by_task_queue_or_all,
)
from tests.test_store_monitor import (  # noqa: F401
    test_a_paused_queue_is_skipped_by_every_kind_of_claim_until_resumed,
    test_pages_walk_newest_first_by_keyset_and_filter,
)
