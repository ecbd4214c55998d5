"""The states a job moves through, named once (Celery's names).

Glossary: a *task* is the function; a *job* is one run of it (one row in the store); a *queue*
holds jobs waiting for a worker; a *routing key* picks the queue; a *worker* claims and runs
jobs; *beat* sends jobs on a schedule.
"""

PENDING = "PENDING"  # Celery's word for "not begun or not known": what AsyncResult.state reports for a
#                      waiting, scheduled or reserved job, and for an id no job has (never sent, pruned)
QUEUED = "QUEUED"  # waiting to run, possibly for its eta (stored state)
SCHEDULED = "SCHEDULED"  # a QUEUED job whose eta is still ahead (as status and job_state report it)
RESERVED = "RESERVED"  # claimed by a worker ahead of running (prefetched), not begun; the worker holds a
#                        lease on it. Celery has no stored state for this: AsyncResult.state reads PENDING
STARTED = "STARTED"  # begun: a worker's child runs it (the worker holds a lease on it)
RETRY = "RETRY"  # failed an attempt and waits to run again
SUCCESS = "SUCCESS"  # finished; its return value is stored unless results are ignored
FAILURE = "FAILURE"  # failed for good; the error and traceback are stored
REVOKED = "REVOKED"  # cancelled, or expired before it could start
PROGRESS = "PROGRESS"  # a custom state a running task may report with update_state
REPLACED = "REPLACED"  # its task called self.replace(sig): it waits for the replacement's last job, which
#                        takes its task id (and its row). Celery has no stored state for this: PENDING
IGNORED = "IGNORED"  # over: its task raised Ignore, so it has no result and sets nothing off (no links,
#                       errbacks or chain step). Celery stores nothing for it: AsyncResult.state reads the
#                       custom state the task set with update_state, else PENDING. Also the state
#                       task_postrun reports for a job that raised Ignore or was replaced, as Celery's does

ALL_STATES = frozenset({PENDING, QUEUED, RESERVED, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, REPLACED, IGNORED})
# The job is over. (Celery's set has no IGNORED: Celery code never reads it, see celery_state.)
READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED, IGNORED})
UNREADY_STATES = frozenset({PENDING, QUEUED, RESERVED, STARTED, RETRY, REPLACED})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
WAITING_STATES = (QUEUED, RETRY)  # a worker may claim these once due
LEASED_STATES = (RESERVED, STARTED)  # a worker holds these (claimed): reserved, then begun
# Every state a job's row may hold, in the order a job moves through them: what the dashboard's
# and the store's state filters accept (PENDING is never stored; SCHEDULED is a QUEUED job).
STORED_STATES = (QUEUED, RESERVED, STARTED, RETRY, REPLACED, SUCCESS, FAILURE, REVOKED, IGNORED)

# litequeue's finer states of a job not yet begun (waiting, scheduled, claimed ahead by a worker;
# replaced, its replacement's last job not begun), all of which Celery code sees as PENDING.
# AsyncResult.job_state keeps the finer one.
NOT_BEGUN_STATES = frozenset({QUEUED, SCHEDULED, RESERVED, REPLACED})


def celery_state(state: str, custom_state: str | None = None) -> str:
    """The state Celery code sees for a job whose finer state is ``state``; an IGNORED job reads
    ``custom_state``, the state its task stored with update_state before raising Ignore, if any."""
    if state == IGNORED:
        return custom_state or PENDING
    return PENDING if state in NOT_BEGUN_STATES else state
