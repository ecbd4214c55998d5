"""Beat's store-agnostic tests, run again on PostgreSQL (imported, not copied; ``db`` is a
PostgreSQL URL here)."""

from tests.processes.test_beat import (  # noqa: F401
    start_beat,
    test_several_beats_send_each_fire_once_and_a_killed_one_leaves_no_gap,
)
from tests.test_schedules import (  # noqa: F401
    beat_app,
    test_a_fire_already_recorded_sends_no_second_job,
    test_a_long_outage_is_caught_up_without_walking_every_missed_fire,
    test_each_fire_is_sent_once_however_many_beats_look_at_it,
    test_misfire_all_sends_the_latest_missed_fires_up_to_the_limit,
    test_misfire_once_sends_one_catch_up_job_after_downtime,
    test_runtime_add_pause_resume_and_remove_are_seen_by_a_running_beat,
    test_sync_adds_changes_and_removes_code_entries_and_keeps_runtime_ones,
)
