"""The states a job moves through, named once (Celery's names).

Glossary: a *task* is the function; a *job* is one run of it (one row in the store); a *queue*
holds jobs waiting for a worker; a *routing key* picks the queue; a *worker* claims and runs
jobs; *beat* sends jobs on a schedule.
"""

PENDING = "PENDING"  # no job with this id is known (never sent, forgotten, or pruned)
QUEUED = "QUEUED"  # waiting to run, possibly for its eta
RESERVED = "RESERVED"  # claimed by a worker ahead of running (prefetched), not begun; the worker holds a
#                        lease on it. Celery has no stored state for this: AsyncResult.state reads PENDING
STARTED = "STARTED"  # begun: a worker's child runs it (the worker holds a lease on it)
RETRY = "RETRY"  # failed an attempt and waits to run again
SUCCESS = "SUCCESS"  # finished; its return value is stored unless results are ignored
FAILURE = "FAILURE"  # failed for good; the error and traceback are stored
REVOKED = "REVOKED"  # cancelled, or expired before it could start
PROGRESS = "PROGRESS"  # a custom state a running task may report with update_state

ALL_STATES = frozenset({PENDING, QUEUED, RESERVED, STARTED, RETRY, SUCCESS, FAILURE, REVOKED})
READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})  # the job is over
UNREADY_STATES = frozenset({PENDING, QUEUED, RESERVED, STARTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
WAITING_STATES = (QUEUED, RETRY)  # a worker may claim these once due
LEASED_STATES = (RESERVED, STARTED)  # a worker holds these (claimed): reserved, then begun
