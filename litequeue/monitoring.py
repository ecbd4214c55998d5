"""What is going on in a store, as plain JSON-ready data: ``status`` for one screen a person
reads at a glance, and ``Inspect`` for Celery's ``inspect`` questions (active, scheduled,
registered, stats). The command line and the dashboard print these; scripts can call them directly.

One JSON convention: times are ISO-8601 strings in UTC, a missing value is ``null``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import serialization, states
from .display import utc_datetime
from .errors import LiteQueueError
from .routing import Queue
from .store import Job, WorkerInfo, describe_url

if TYPE_CHECKING:
    from .app import LiteQueue

LOST_AFTER_HEARTBEATS = 3  # a worker silent for this many heartbeat intervals is shown as lost
STOPPED_SHOWN_FOR = 3600.0  # seconds a stopped, lost or dead worker stays in the status
RECENT = 3600.0  # "done in the last hour"
RUNNING_SHOWN = 20  # running jobs listed in the status


def iso(epoch: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string (None stays None): the time format of every JSON
    litequeue prints or serves."""
    moment = utc_datetime(epoch)  # (a stored time no date can hold: None rather than an error)
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def status(app: LiteQueue, now: float | None = None) -> dict[str, Any]:
    """Queues (counts, age of the oldest due job), workers (running, lost, dead or stopped) and
    the jobs running now with their progress."""
    now = time.time() if now is None else now
    store = app.store
    return {"database": describe_url(store.url), "time": iso(now), "queues": queue_rows(app, now),
            "workers": workers(app, now), "running": [job_dict(app, job, now) for job in
                                                       store.list_jobs([states.STARTED], limit=RUNNING_SHOWN)],
            "held_back": held_back(app), "workflows": workflows(app, now - RECENT)}


def queue_rows(app: LiteQueue, now: float) -> list[dict[str, Any]]:
    """Per queue: queued (due), scheduled, reserved (claimed ahead by a worker, not begun), running,
    retrying, failed, revoked, done in the last hour, and how long the oldest due job has waited
    (seconds)."""
    return [{
        "queue": q.queue, "queued": q.queued, "scheduled": q.scheduled, "reserved": q.reserved,
        "running": q.running,
        "retrying": q.retrying, "failed": q.failed, "revoked": q.revoked, "done_last_hour": q.done_recently,
        "oldest_waiting_seconds": None if q.oldest_due_at is None else round(max(now - q.oldest_due_at, 0.0), 3),
    } for q in app.store.queue_stats(now - RECENT)]


def workers(app: LiteQueue, now: float) -> list[dict[str, Any]]:
    """The workers running now, and those that stopped, were lost or died within the last hour.
    Their job counts are read from the store (not only from their last heartbeat)."""
    found = [w for w in app.store.workers() if now - (w.stopped_at or w.heartbeat_at) <= STOPPED_SHOWN_FOR]
    return [worker_dict(app, w, now) for w in found]


def held_back(app: LiteQueue) -> list[dict[str, Any]]:
    """Due jobs a rate or concurrency limit holds back now, per limit, with the reason in words
    ("rate limited until 12:03:10", "waiting for a concurrency slot of key acct-42")."""
    from .flow import held_back_dict

    return [{**d, "until": iso(d["until"])} for d in (held_back_dict(h) for h in app.store.held_back())]


def held_back_job(app: LiteQueue, job: Job, now: float | None = None) -> list[dict[str, Any]]:
    """The limits holding ``job`` back now (as ``held_back`` shows them), if it is due and
    waiting: its task's or its queue's rate limiter not yet open, or every concurrency slot of
    its key or queue taken. Empty for a job that is not held back."""
    from .flow import held_back_dict

    now = time.time() if now is None else now
    due = job.due_at if job.due_at is not None else job.eta
    if job.state not in states.WAITING_STATES or (due is not None and due > now):
        return []
    mine = {f"task:{job.task}", f"queue:{job.queue}", job.flow_key}
    return [{**d, "until": iso(d["until"])} for d in
            (held_back_dict(h) for h in app.store.held_back() if h.limit in mine)]


def workflows(app: LiteQueue, since: float, limit: int = 20) -> list[dict[str, Any]]:
    """The groups and chords sent since ``since``, newest first, with their progress."""
    return [{**g, "chord": bool(g["chord"]), **group_progress(app, g["id"], g["size"])}
            for g in app.store.recent_groups(since, limit)]


def group_progress(app: LiteQueue, group_id: str, size: int) -> dict[str, Any]:
    """Members done (over: succeeded, failed or revoked) of ``size``, and the count per state."""
    counts = app.store.group_progress(group_id)
    done = sum(n for state, n in counts.items() if state in states.READY_STATES)
    return {"members_done": done, "members_total": size, "states": counts}


def workflow_of(app: LiteQueue, job: Job) -> dict[str, Any] | None:
    """Where a job stands in its workflow: its group (and that group's progress, and whether
    it is a chord member), which step of a chain it is, what follows it; None outside one."""
    o = job.options
    if not o:
        return None
    out: dict[str, Any] = {}
    if o.get("group_id"):
        info = app.store.group_info(o["group_id"])
        size = info["size"] if info else 0
        out["group"] = {"id": o["group_id"], "index": o.get("group_index"), "chord": bool(o.get("chord")),
                        **group_progress(app, o["group_id"], size)}
        if info and info["callback"]:
            out["group"]["chord_state"] = info["state"]
    if o.get("chain_step"):
        step, total = o["chain_step"]
        out["chain"] = {"step": step, "of": total}
    ref = o.get("chain")
    steps = app.store.chain_steps(ref["id"]) if isinstance(ref, dict) else None
    if steps and isinstance(ref, dict):
        following = serialization.loads(steps.encode(), serialization.JSON, frozenset({serialization.JSON}))
        out["next"] = [s.get("task") or s.get("subtask_type") for s in following[ref["next"]:]]
    for key in ("link", "link_error"):
        if o.get(key):
            out[key] = [s.get("task") for s in serialization.from_plain(o[key])]
    return out or None


def worker_state(app: LiteQueue, worker: WorkerInfo, now: float) -> str:
    """``running``, ``stopped`` (it said goodbye), ``dead`` (on this host, and its process is
    gone) or ``lost`` (it stopped heartbeating)."""
    if worker.stopped_at is not None:
        return "stopped"
    if worker.hostname == socket.gethostname() and not _process_exists(worker.pid):
        return "dead"
    if now - worker.heartbeat_at > LOST_AFTER_HEARTBEATS * app.conf.worker_heartbeat_interval:
        return "lost"
    return "running"


def _process_exists(pid: int) -> bool:
    """Whether ``pid`` is a live process: a killed one its parent has not reaped yet (a zombie)
    runs nothing and counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # "pid (comm) STATE ...": comm may hold ")"
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):  # no /proc (not Linux), or the process just went
        return False


def worker_dict(app: LiteQueue, worker: WorkerInfo, now: float) -> dict[str, Any]:
    """A worker as status and the dashboard show it. A running worker's count of jobs done is
    its last heartbeat's plus what the store shows it finished since."""
    state = worker_state(app, worker, now)
    processed = worker.processed
    if state == "running":
        processed += app.store.count_finished_by(worker.name, worker.heartbeat_at)
    return {
        "name": worker.name, "hostname": worker.hostname, "pid": worker.pid, "concurrency": worker.concurrency,
        "queues": worker.queues.split(","), "started_at": iso(worker.started_at),
        "last_heartbeat": iso(worker.heartbeat_at), "heartbeat_age": round(max(now - worker.heartbeat_at, 0.0), 3),
        "processed": processed, "stopped_at": iso(worker.stopped_at), "status": state,
    }


def job_dict(app: LiteQueue, job: Job, now: float) -> dict[str, Any]:
    """A job as inspect and status show it (Celery's field names where it has them)."""
    args, kwargs = _arguments(app, job)
    running = job.state == states.STARTED
    held = job.state in states.LEASED_STATES
    return {
        "id": job.task_id, "name": job.task, "queue": job.queue, "priority": job.priority,
        "state": (job.custom_state or job.state) if running else job.state,
        "progress": _meta(app, job) if running and job.custom_state else None,
        "args": args, "kwargs": kwargs, "eta": iso(job.eta), "worker": worker_name(job) if held else None,
        "time_start": iso(job.started_at) if running else None,
        "runtime": round(now - job.started_at, 3) if running and job.started_at else None,
        "attempts": job.attempts, "workflow": workflow_of(app, job),
    }


class Inspect:
    """Celery's ``app.control.inspect()``: what the workers are doing, read from the store."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app

    def active(self) -> dict[str, list[dict]]:
        """{worker name: the jobs it is running}."""
        now = time.time()
        out: dict[str, list[dict]] = {}
        for job in self.app.store.list_jobs([states.STARTED], limit=10_000):
            out.setdefault(worker_name(job) or "?", []).append(job_dict(self.app, job, now))
        return out

    def reserved(self) -> dict[str, list[dict]]:
        """{worker name: the jobs it has claimed ahead and not begun} (Celery's reserved)."""
        now = time.time()
        out: dict[str, list[dict]] = {}
        for job in self.app.store.list_jobs([states.RESERVED], limit=10_000):
            out.setdefault(worker_name(job) or "?", []).append(job_dict(self.app, job, now))
        return out

    def scheduled(self, limit: int = 1000) -> list[dict]:
        """Jobs waiting for a future eta (countdown, eta, retry delay), soonest first."""
        now = time.time()
        jobs = self.app.store.list_jobs(states.WAITING_STATES, limit=limit, scheduled=True)
        return sorted((job_dict(self.app, j, now) for j in jobs), key=lambda j: j["eta"] or "")

    def scheduled_in_store(self) -> int:
        """How many jobs wait in the store for a future eta (countdown, eta, retry delay),
        whether or not a live worker would run them."""
        return self.app.store.count_jobs(scheduled=True)

    def held_back(self) -> list[dict]:
        """Due jobs that a rate or concurrency limit holds back, per limit, and why."""
        return held_back(self.app)

    def registered(self) -> list[str]:
        """The names of the tasks this app registers (what a worker started with it runs)."""
        return sorted(self.app.tasks)

    def stats(self) -> dict[str, dict]:
        """{worker name: pid, host, concurrency, queues, uptime, jobs done, last heartbeat} of
        the workers that have not stopped."""
        now = time.time()
        return {w.name: {**worker_dict(self.app, w, now), "uptime": round(now - w.started_at, 3)}
                for w in self.app.store.workers() if w.stopped_at is None}


def worker_name(job: Job) -> str | None:
    """The name of the worker that ran (or runs) ``job``; the store records it with the worker
    run's unique suffix (``w1@host/1a2b3c4d``), which is dropped here."""
    return job.worker.partition("/")[0] if job.worker else None


def _arguments(app: LiteQueue, job: Job) -> tuple[Any, Any]:
    try:
        args, kwargs = serialization.loads(job.body, job.content_type,
                                           serialization.accepted_types(app.conf.accept_content))
        return list(args), dict(kwargs)
    except LiteQueueError:
        return f"<{job.content_type} not in accept_content>", None


def _meta(app: LiteQueue, job: Job) -> Any:
    accept = serialization.accepted_types(app.conf.accept_content) | {serialization.JSON}
    try:
        return serialization.loads(job.meta, job.result_type or serialization.JSON, accept)
    except LiteQueueError:
        return None


# -- what `litequeue queues` shows ------------------------------------------------------------

@dataclass(frozen=True)
class QueueSummary:
    """One queue: its bindings and delivery mode (empty and None for a queue the app does not
    declare but the store holds jobs of) and job counts (queued = due now, scheduled = waiting
    for an eta or a retry delay)."""

    name: str
    bindings: tuple[str, ...]
    exchange: str
    delivery_mode: int | None
    declared: bool
    queued: int = 0
    scheduled: int = 0
    reserved: int = 0
    running: int = 0
    failed: int = 0
    paused: bool = False  # workers claim nothing from it until it is resumed


_COUNTED = {"QUEUED": "queued", "RETRY": "queued", "SCHEDULED": "scheduled", "RESERVED": "reserved",
            "STARTED": "running", "FAILURE": "failed"}


def summarize_queues(conf: Any, counts: dict[tuple[str, str], int],
                     paused: frozenset[str] | set[str] = frozenset()) -> list[QueueSummary]:
    """The declared queues (or the default queue when none are), in declaration order, then every
    other queue that holds jobs or is paused, each with its counts from ``Store.counts()``."""
    declared = conf.task_queues
    if declared is None:
        declared = (Queue(conf.task_default_queue, conf.task_default_routing_key),)
    rows: dict[str, dict] = {}
    for q in declared:
        exchange = q.exchange or conf.task_default_exchange
        row = rows.setdefault(q.name, dict(name=q.name, bindings=(), exchange=exchange,
                                           delivery_mode=q.delivery_mode, declared=True))
        row["bindings"] += (q.binding,)
    for (queue, state), n in sorted(counts.items()):
        row = rows.setdefault(queue, dict(name=queue, bindings=(), exchange=conf.task_default_exchange,
                                          delivery_mode=None, declared=False))
        if state in _COUNTED:
            row[_COUNTED[state]] = row.get(_COUNTED[state], 0) + n
    for queue in sorted(paused):
        rows.setdefault(queue, dict(name=queue, bindings=(), exchange=conf.task_default_exchange,
                                    delivery_mode=None, declared=False))["paused"] = True
    return [QueueSummary(**row) for row in rows.values()]
