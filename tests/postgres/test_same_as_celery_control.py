"""The store-agnostic tests of task_revoked and of add_consumer / cancel_consumer / query_task /
conf, run again on PostgreSQL (``db`` is a URL: see conftest). Imported, not copied."""

from tests.processes.test_celery_consumers import (  # noqa: F401
    test_add_and_cancel_consumer_change_what_a_live_worker_claims,
    test_query_task_and_conf_answer_for_a_live_worker,
)
from tests.processes.test_celery_revoked import (  # noqa: F401
    test_a_revoke_is_announced_by_a_worker_of_its_queue_only,
    test_jobs_revoked_while_waiting_are_announced_once_by_the_next_worker_of_their_queue,
    test_two_live_workers_announce_each_revoke_once_between_them,
)
