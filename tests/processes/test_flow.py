"""Flow control with real worker processes (two workers of three children each) on SQLite; the
PostgreSQL tier runs the same scenarios (tests/postgres/test_same_as_processes_flow.py)."""

from __future__ import annotations

import pytest

from tests.support import flow_scenarios


def test_a_rate_limit_is_never_exceeded_across_two_workers(flow_app, ledger, start_worker):
    flow_scenarios.rate_is_never_exceeded(ledger, start_worker)


@pytest.mark.prefork_only("it stops the pool child that holds the job")
def test_a_child_that_reached_its_job_late_gives_the_start_back_and_it_runs_at_once(flow_app, ledger, start_worker):
    flow_scenarios.late_child_gets_its_start_back(flow_app, ledger, start_worker)


def test_rate_limits_from_task_annotations_hold_across_two_workers_and_win_over_the_decorator(db, ledger,
                                                                                              start_worker):
    from tests.support import flow_annotated

    flow_annotated.app.url = db
    try:
        flow_scenarios.annotated_rates_hold(ledger, start_worker)
    finally:
        flow_annotated.app.close()


def test_concurrency_limits_hold_per_key_task_and_queue_across_two_workers(flow_app, ledger, start_worker,
                                                                          worker_env):
    flow_scenarios.concurrency_is_never_exceeded(ledger, start_worker, worker_env)


def test_eight_racing_producers_create_one_unique_job(flow_app, db, tmp_path, worker_env):
    flow_scenarios.racing_producers_make_one_job(flow_app, db, tmp_path, worker_env)


def test_a_killed_workers_concurrency_slot_comes_back_when_its_lease_is_rescued(flow_app, ledger, start_worker):
    flow_scenarios.killed_workers_slot_comes_back_at_rescue(flow_app, ledger, start_worker)
