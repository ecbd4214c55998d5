"""The workflow tests (chain, group, chord, links, failure rules, a worker killed mid-chord) run
again on PostgreSQL (``db`` is a URL: see conftest), where members finish in concurrent
transactions and the chord's counter row is what serialises them."""

from tests.processes.test_workflow_crash import (  # noqa: F401
    test_a_200_member_chord_with_a_worker_killed_midway_calls_back_once_with_every_result,
    test_a_member_lost_with_its_worker_past_its_retries_fails_the_chord,
)
from tests.processes.test_workflows import (  # noqa: F401
    test_a_chain_passes_each_result_on_and_knows_its_parent,
    test_a_chord_calls_back_once_with_every_result_in_header_order,
    test_a_failing_member_fails_the_chord_naming_it_and_calls_its_errbacks,
    test_a_failing_step_stops_its_chain_and_get_raises_the_original_error,
    test_a_group_runs_every_member_and_returns_results_in_order,
    test_a_member_retried_does_not_fire_the_join_early,
    test_a_result_read_back_by_id_knows_its_parent_and_its_children,
    test_as_completed_yields_results_as_they_finish,
    test_links_run_with_the_result_and_errbacks_with_request_exception_and_traceback,
    test_revoking_a_chain_stops_the_steps_not_yet_run,
    test_revoking_a_group_revokes_what_has_not_run_and_fails_its_chord,
    test_signatures_by_name_and_with_options_run_in_a_workflow,
    test_workflows_nest_as_celery_allows,
)
