"""How a new job becomes a row of lq_jobs: the INSERT statement and the values it takes."""

from __future__ import annotations

import json

from .. import states
from .records import NewJob

INSERT_JOB = (
    "INSERT INTO lq_jobs (task_id, task, queue, routing_key, priority, state, body, content_type, "
    "eta, wait_until, due_at, expires, created_at, attempts, max_retries, acks_late, ignore_result, "
    "durable, options, unique_key, unique_until, flow_key, group_id, group_index, parent_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def job_row(job: NewJob, now: float) -> tuple:
    """The values of INSERT_JOB for ``job``, sent at ``now``."""
    task_id, body, task, queue, routing_key, content_type, priority, eta, expires, max_retries, acks_late, \
        ignore_result, durable, options, flow = job  # one unpacking: cheaper than a dozen field reads
    parent_id = None
    if options and "parent_id" in options:  # a column of its own (a job's children are read by it)
        parent_id = options["parent_id"]
        options = {k: v for k, v in options.items() if k != "parent_id"}
    return (
        task_id, task, queue, routing_key, priority, states.QUEUED, body, content_type, eta,
        eta if eta is not None and eta > now else None, now if eta is None else eta, expires, now,
        max_retries, acks_late, ignore_result, durable, json.dumps(options) if options else None,
        *(flow[:3] if flow is not None else _NO_FLOW),
        options.get("group_id") if options else None, options.get("group_index") if options else None, parent_id,
    )


_NO_FLOW = (None, None, None)
