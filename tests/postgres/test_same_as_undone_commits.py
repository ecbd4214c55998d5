"""The store-agnostic tests of tests.processes.test_undone_commits, run again on PostgreSQL: an
outcome commit undone by a server crash (the row rewound to its claimed state) does not leave the
job STARTED under a living worker. The real crash-restart of a private cluster is a scenario of
scripts/chaos.py (``postgres-crash``)."""

from tests.processes.test_undone_commits import (  # noqa: F401
    test_a_job_whose_outcome_commit_is_undone_runs_again,
    test_extend_leases_renews_only_the_jobs_held_and_gives_back_the_rest,
    test_extend_leases_spares_a_claim_its_pool_process_has_not_reported_yet,
    test_release_unreported_puts_back_only_the_unheld_claims_made_since_the_arming,
)
