"""The store-agnostic tests of tests.processes.test_routing, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.processes.test_routing import (  # noqa: F401
    producer,
    test_a_worker_on_one_queue_leaves_the_other_queues_alone,
    test_q_is_a_strict_priority_order_between_queues,
    test_round_robin_takes_a_fair_share_of_each_queue_when_a_limit_is_declared,
    test_round_robin_takes_queues_in_turn,
    test_x_excludes_queues_and_no_selection_runs_every_queue,
)
