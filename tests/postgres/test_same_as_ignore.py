"""A task raising Ignore, again on PostgreSQL (``db`` is a URL: see conftest): the outcome
statement keeps the custom state of an IGNORED job, and the finished-state lists include it."""

from tests.processes.test_ignore import (  # noqa: F401
    test_a_worker_ends_an_ignored_job_once_without_links_and_logs_it,
)
from tests.test_ignore import (  # noqa: F401
    test_an_ignored_chord_member_fails_the_chord_naming_ignore,
    test_an_ignored_job_can_be_run_again_and_forgotten,
    test_an_ignored_job_is_over_reads_pending_and_get_raises_at_once,
    test_the_custom_state_stored_before_ignore_is_what_celery_code_reads,
)
