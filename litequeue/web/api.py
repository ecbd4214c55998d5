"""The HTTP API behind the dashboard: each route a short function over the public monitoring
functions (``monitoring``, ``browse``) and the store's admin operations, returning JSON-ready data.
``openapi.json`` beside this file documents every route; a test checks the server against it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__, browse, monitoring, states
from ..errors import LiteQueueError
from ..schedules import Schedule
from ..store import describe_url

if TYPE_CHECKING:
    from ..app import LiteQueue

PURGE_BATCH = 500


class ApiError(Exception):
    """An answer other than 200: its HTTP status and a message naming the problem and the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    action: bool  # changes the store: refused with --read-only


ROUTES: list[Route] = []


def route(method: str, path: str, action: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``handler(app, query, **path parameters)`` for ``method path`` ({name} = one segment)."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(Route(method, pattern, handler, action))
        return handler

    return register


def find(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` and its path parameters; ApiError 404/405 when none."""
    allowed = False
    for candidate in ROUTES:
        match = candidate.pattern.match(path)
        if match:
            if candidate.method == method:
                return candidate, match.groupdict()
            allowed = True
    if allowed:
        raise ApiError(405, f"{method} is not allowed on {path}.")
    raise ApiError(404, f"No such page or API route: {path}.")


# -- reading -------------------------------------------------------------------------------------

@route("GET", "/api/overview")
def overview(app: LiteQueue, query: dict[str, str]) -> dict[str, Any]:
    """Queues (depths from their indexes), workers, jobs held back by a limit, and the time:
    what the pages refresh live."""
    return {"time": monitoring.iso(_now()), "queues": queues(app, query), "workers": workers(app, query),
            "held_back": held_back(app, query)}


@route("GET", "/api/queues")
def queues(app: LiteQueue, query: dict[str, str]) -> list[dict[str, Any]]:
    """The app's queues, every queue holding jobs, and paused ones: depths from their indexes."""
    now = _now()
    paused = app.store.paused_queues()
    depths = app.store.queue_depths()
    conf = app.conf
    declared = {q.name for q in conf.task_queues} if conf.task_queues else {conf.task_default_queue}
    names = sorted(set(depths) | paused | declared)  # an empty queue can be paused before jobs arrive
    empty = {"due": 0, "scheduled": 0, "reserved": 0, "running": 0, "retrying": 0, "failed": 0,
             "oldest_due_at": None}
    out = []
    for name in names:
        d = depths.get(name, empty)
        oldest = d["oldest_due_at"]
        out.append({"queue": name, "due": d["due"], "scheduled": d["scheduled"], "reserved": d["reserved"],
                    "running": d["running"],
                    "retrying": d["retrying"], "failed": d["failed"], "paused": name in paused,
                    "oldest_waiting_seconds": None if oldest is None else round(max(now - oldest, 0.0), 3)})
    return out


@route("GET", "/api/held-back")
def held_back(app: LiteQueue, query: dict[str, str]) -> list[dict[str, Any]]:
    """Due jobs a rate or concurrency limit holds back now, per limit, with the reason: what
    ``litequeue status`` prints under HELD BACK (the same monitoring function)."""
    return monitoring.held_back(app)


@route("GET", "/api/workers")
def workers(app: LiteQueue, query: dict[str, str]) -> list[dict[str, Any]]:
    now = _now()
    running = monitoring.Inspect(app).active()
    return [{**w, "active": running.get(w["name"], [])} for w in monitoring.workers(app, now)]


@route("GET", "/api/jobs")
def jobs(app: LiteQueue, query: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(query) - _JOB_FILTERS - {"token"})
    if unknown:  # a mistyped filter would otherwise list every job as if it matched
        raise ApiError(400, f"Unknown parameter {unknown[0]!r}; /api/jobs takes {', '.join(sorted(_JOB_FILTERS))}.")
    limit = _int(query, "limit")
    if limit is not None and not 1 <= limit <= browse.PAGE_MAX:
        raise ApiError(400, f"limit={limit} is out of range; give 1 to {browse.PAGE_MAX} jobs per page.")
    state = query.get("state") or None
    if state is not None and state not in states.STORED_STATES:
        raise ApiError(400, f"state={state!r} is not a job state; use one of {', '.join(states.STORED_STATES)}.")
    where = browse.JobFilter(state=state, task=query.get("task") or None, queue=query.get("queue") or None,
                             sent_after=_time(query, "sent_after"), sent_before=_time(query, "sent_before"),
                             search=query.get("search") or None)
    return browse.job_page(app, where, before=_int(query, "before"), limit=limit or 50)


_JOB_FILTERS = {"state", "task", "queue", "sent_after", "sent_before", "search", "before", "limit"}


@route("GET", "/api/jobs/{job_id}")
def job(app: LiteQueue, query: dict[str, str], job_id: str) -> dict[str, Any]:
    found = app.store.get(job_id)
    if found is None:
        raise ApiError(404, f"No job with id {job_id} (never sent, or pruned).")
    return {**browse.job_detail(app, found), "held_back": monitoring.held_back_job(app, found)}


@route("GET", "/api/schedules")
def schedules(app: LiteQueue, query: dict[str, str]) -> list[dict[str, Any]]:
    return browse.schedules(app)


@route("GET", "/api/throughput")
def throughput(app: LiteQueue, query: dict[str, str]) -> dict[str, Any]:
    minutes = _int(query, "minutes")
    minutes = 60 if minutes is None else minutes  # (0 is refused below, not taken for the default)
    if not 1 <= minutes <= 24 * 60:
        raise ApiError(400, "minutes must be between 1 and 1440.")
    return browse.throughput(app, minutes)


@route("GET", "/api/info")
def info(app: LiteQueue, query: dict[str, str]) -> dict[str, Any]:
    """Filled in by the server (read-only or not); here, what the store and app say."""
    return {"version": __version__, "database": describe_url(app.store.url), "read_only": False,
            "tasks": sorted(app.tasks), "states": list(states.STORED_STATES)}


# -- actions (POST; refused with --read-only) ----------------------------------------------------

@route("POST", "/api/jobs/{job_id}/retry", action=True)
def retry(app: LiteQueue, query: dict[str, str], job_id: str) -> dict[str, Any]:
    found = _job(app, job_id)
    if found.state not in states.READY_STATES:
        raise ApiError(409, f"Job {job_id} is {found.state}; only a finished job can be retried.")
    return {"id": job_id, "changed": app.store.requeue([job_id])}


@route("POST", "/api/jobs/{job_id}/revoke", action=True)
def revoke(app: LiteQueue, query: dict[str, str], job_id: str) -> dict[str, Any]:
    _job(app, job_id)
    return {"id": job_id, "changed": app.control.revoke(job_id)}


@route("POST", "/api/jobs/{job_id}/terminate", action=True)
def terminate(app: LiteQueue, query: dict[str, str], job_id: str) -> dict[str, Any]:
    _job(app, job_id)
    return {"id": job_id, "changed": app.control.revoke(job_id, terminate=True)}


@route("POST", "/api/queues/{queue}/purge", action=True)
def purge(app: LiteQueue, query: dict[str, str], queue: str) -> dict[str, Any]:
    deleted = 0
    while n := app.store.purge(queue, batch=PURGE_BATCH):
        deleted += n
    return {"queue": queue, "changed": deleted}


@route("POST", "/api/queues/{queue}/pause", action=True)
def pause_queue(app: LiteQueue, query: dict[str, str], queue: str) -> dict[str, Any]:
    return {"queue": queue, "changed": int(app.store.pause_queue(queue))}


@route("POST", "/api/queues/{queue}/resume", action=True)
def resume_queue(app: LiteQueue, query: dict[str, str], queue: str) -> dict[str, Any]:
    return {"queue": queue, "changed": int(app.store.resume_queue(queue))}


@route("POST", "/api/schedules/{name}/pause", action=True)
def pause_schedule(app: LiteQueue, query: dict[str, str], name: str) -> dict[str, Any]:
    return browse.entry_dict(_schedule_call(lambda: Schedule(app).pause(name)))


@route("POST", "/api/schedules/{name}/resume", action=True)
def resume_schedule(app: LiteQueue, query: dict[str, str], name: str) -> dict[str, Any]:
    return browse.entry_dict(_schedule_call(lambda: Schedule(app).resume(name)))


# -- helpers -------------------------------------------------------------------------------------


def _job(app: LiteQueue, job_id: str) -> Any:
    found = app.store.get(job_id)
    if found is None:
        raise ApiError(404, f"No job with id {job_id} (never sent, or pruned).")
    return found


def _schedule_call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except LiteQueueError as exc:
        raise ApiError(404, exc.message) from None


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{key}={value!r} is not a whole number.") from None


def _time(query: dict[str, str], key: str) -> float | None:
    value = query.get(key)
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{key}={value!r} is not an ISO-8601 time like 2030-01-31T09:00:00Z.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _now() -> float:
    import time

    return time.time()
