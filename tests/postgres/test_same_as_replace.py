"""self.replace(sig) through a real worker, again on PostgreSQL (``db`` is a URL: see conftest):
the replaced row's revoke flag read back as its replacement's last job takes its id."""

from tests.processes.test_replace import (  # noqa: F401
    test_a_worker_sends_the_replacement_and_the_workflow_goes_on,
    test_revoking_a_replaced_job_revokes_its_replacements_last_job,
)
