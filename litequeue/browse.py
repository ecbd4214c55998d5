"""The job browser's reads: one job in full (arguments, result or traceback, attempts, timeline),
pages of jobs filtered by state, task, queue, time and text (keyset pagination: a page costs the
same on the millionth row as on the first), schedules, and counts over time for charts.

What ``litequeue result --json`` prints and the dashboard serves come from here; times are ISO-8601
UTC strings and missing values ``null`` (the convention of ``monitoring``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import serialization, states
from .errors import LiteQueueError
from .monitoring import _arguments, iso, worker_name, workflow_of
from .store import Job

if TYPE_CHECKING:
    from .app import LiteQueue
    from .schedules import Entry

PAGE_MAX = 500  # jobs one page may ask for


def job_detail(app: LiteQueue, job: Job) -> dict[str, Any]:
    """Everything about one job, JSON-ready: arguments, result or error and traceback, progress,
    attempts (each failed one with its traceback), a timeline, and where it stands in its
    workflow (group or chord and its progress, chain step, what follows; null outside one)."""
    args, kwargs = _arguments(app, job)
    running = job.state in (states.STARTED, states.IGNORED)  # (ignored: the state its task stored, if any)
    return {
        "id": job.task_id, "task": job.task, "queue": job.queue, "routing_key": job.routing_key,
        "priority": job.priority, "state": job.state,
        "custom_state": job.custom_state if running else None,
        "progress": _decoded(app, job.meta, job.result_type) if running and job.custom_state else None,
        "args": args, "kwargs": kwargs,
        "result": _decoded(app, job.result, job.result_type) if job.state == states.SUCCESS else None,
        "exc_type": job.exc_type, "exc_message": job.exc_message, "traceback": job.traceback,
        "attempts": job.attempts, "retries": job.retries, "max_retries": job.max_retries,
        "worker": worker_name(job), "sent_at": iso(job.created_at), "eta": iso(job.eta),
        "expires": iso(job.expires), "started_at": iso(job.started_at), "done_at": iso(job.done_at),
        "options": job.options, "workflow": workflow_of(app, job),
        "history": [{**entry, "time": iso(entry.get("time"))} for entry in job.history],
        "timeline": timeline(job),
    }


def timeline(job: Job) -> list[dict[str, Any]]:
    """What happened to the job, oldest first: sent, each failed attempt, started, ended."""
    events: list[tuple[float, str, str]] = [(job.created_at, "sent", f"to queue {job.queue}")]
    if job.eta and job.eta > job.created_at:
        events.append((job.eta, "due", "its eta"))
    for entry in job.history:
        events.append((entry.get("time") or job.created_at, "attempt failed",
                       f"attempt {entry.get('attempt')} on {entry.get('worker')}: "
                       f"{entry.get('exc_type')}: {entry.get('message')}"))
    if job.started_at:
        events.append((job.started_at, "started", f"attempt {job.attempts} on {worker_name(job)}"))
    if job.done_at:
        events.append((job.done_at, job.state.lower(), job.exc_type or ""))
    return [{"time": iso(t), "event": event, "detail": detail} for t, event, detail in sorted(events)]


def job_summary(job: Job) -> dict[str, Any]:
    """A job as one row of a list (no arguments decoded, no traceback)."""
    return {
        "id": job.task_id, "task": job.task, "queue": job.queue, "state": job.state, "priority": job.priority,
        "attempts": job.attempts, "worker": worker_name(job), "sent_at": iso(job.created_at),
        "eta": iso(job.eta), "started_at": iso(job.started_at), "done_at": iso(job.done_at),
        "error": f"{job.exc_type}: {job.exc_message}" if job.exc_type else None,
    }


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a page shows: state, task, queue, sent between ``sent_after`` and
    ``sent_before`` (epoch seconds), and ``search`` (a job id, or text in the arguments)."""

    state: str | None = None
    task: str | None = None
    queue: str | None = None
    sent_after: float | None = None
    sent_before: float | None = None
    search: str | None = None


def job_page(app: LiteQueue, where: JobFilter, before: int | None = None, limit: int = 50) -> dict[str, Any]:
    """One page of jobs, newest first, and the cursor of the next (``null`` on the last page).

    A search that is a job id shows that job; other text is looked for in the jobs' encoded
    arguments. A page with filters that no index serves looks through a bounded window of ids
    (``Store.page_jobs``): it may hold fewer jobs than asked while ``next`` goes on."""
    limit = max(1, min(limit, PAGE_MAX))
    if where.search and (job := app.store.get(where.search.strip())) is not None:
        return {"jobs": [job_summary(job)], "next": None}
    jobs, after = app.store.page_jobs(where.state, where.task, where.queue, where.sent_after, where.sent_before,
                                      where.search, before, limit)
    return {"jobs": [job_summary(job) for job in jobs], "next": after}


def schedules(app: LiteQueue) -> list[dict[str, Any]]:
    """Every schedule entry: its schedule, task and arguments, next and last fire, runs, state."""
    from .schedules import Schedule

    return [entry_dict(e) for e in Schedule(app).entries()]


def entry_dict(e: Entry) -> dict[str, Any]:
    """One schedule entry, JSON-ready."""
    return {
        "name": e.name, "schedule": e.schedule_text, "task": e.task, "args": list(e.args), "kwargs": e.kwargs,
        "next_fire": iso(e.next_fire.timestamp()) if e.next_fire else None,
        "last_fire": iso(e.last_fire.timestamp()) if e.last_fire else None, "runs": e.runs,
        "state": "paused" if e.paused else ("done" if e.next_fire is None else "active"),
        "origin": e.origin, "timezone": e.timezone, "misfire": e.misfire,
    }


def throughput(app: LiteQueue, minutes: int = 60, now: float | None = None) -> dict[str, Any]:
    """Jobs finished per minute over the last ``minutes``, by outcome (for charts): one list of
    minute starts and one list of counts per state."""
    now = time.time() if now is None else now
    start = (now // 60 - minutes + 1) * 60
    counts = app.store.done_per_bucket(start, 60.0)
    minutes_at = [start + 60 * i for i in range(minutes)]
    series = {state: [counts.get((i, state), 0) for i in range(minutes)]
              for state in (states.SUCCESS, states.FAILURE, states.REVOKED, states.IGNORED)}
    return {"minutes": [iso(t) for t in minutes_at], "series": series}


def _decoded(app: LiteQueue, data: bytes | None, content_type: str | None) -> Any:
    if data is None:
        return None
    accept = serialization.accepted_types(app.conf.accept_content) | {serialization.JSON}
    try:
        value = serialization.loads(data, content_type or serialization.JSON, accept)
    except LiteQueueError:
        return f"<{content_type} not in accept_content>"
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
