"""Celery's ``app.control`` and ``app.control.inspect()``, answered from the store.

Celery broadcasts a question to its workers and gathers their replies; here every worker's state
is in the store already (its row in the workers table, the jobs it leases), so the answers are
read, shaped as Celery shapes them: ``{worker name: reply}`` for each live worker (only those in
``destination`` when given). Workers that stopped heartbeating do not answer, as in Celery.
"""

from __future__ import annotations

import json
import logging
import os
import signal as signals_module
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import consumers, states
from .errors import InvalidOptionError
from .monitoring import Inspect, job_dict, worker_name, worker_state

if TYPE_CHECKING:
    from .app import LiteQueue
    from .store import Job, WorkerInfo

log = logging.getLogger("litequeue.control")


class CeleryInspect(Inspect):
    """``app.control.inspect(destination=None)``: Celery's questions, one reply per live worker."""

    def __init__(self, app: LiteQueue, destination: Any = None, timeout: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(app)
        self.destination = [destination] if isinstance(destination, str) else (
            list(destination) if destination is not None else None)

    def _workers(self) -> list[WorkerInfo]:
        now = time.time()
        return [w for w in self.app.store.workers() if worker_state(self.app, w, now) == "running"
                and (self.destination is None or w.name in self.destination)]

    def _each(self, reply: Any) -> dict[str, Any]:
        return {w.name: reply(w) for w in self._workers()}

    def ping(self) -> dict[str, dict]:
        """{worker: {"ok": "pong"}} for each worker that is heartbeating."""
        return self._each(lambda w: {"ok": "pong"})

    def active(self) -> dict[str, list[dict]]:
        """{worker: the jobs it is running}, for each live worker and each owner of a running job."""
        running = {name: jobs for name, jobs in super().active().items()
                   if self.destination is None or name in self.destination}
        return {**self._each(lambda w: []), **running}

    def reserved(self) -> dict[str, list[dict]]:
        """{worker: the jobs it has claimed but not begun}."""
        reserved_state = getattr(states, "RESERVED", None)
        jobs = self.app.store.list_jobs([reserved_state], limit=10_000) if reserved_state else []
        return self._by_owner(jobs)

    def scheduled(self, limit: int = 1000) -> dict[str, list[dict]]:  # type: ignore[override]
        """{worker: jobs waiting for their eta that it would run}: each listed once, under the
        first live worker consuming its queue, as ``{"eta", "priority", "request"}``."""
        workers = self._workers()
        out: dict[str, list[dict]] = {w.name: [] for w in workers}
        for job in super().scheduled(limit):
            owner = next((w.name for w in workers if _consumes(w, job["queue"])), None)
            if owner is not None:
                out[owner].append({"eta": job["eta"], "priority": job["priority"], "request": job})
        return out

    def registered(self) -> dict[str, list[str]]:  # type: ignore[override]
        """{worker: the task names it runs} (this app's tasks)."""
        names = sorted(name for name in self.app.tasks if not name.startswith("litequeue."))
        return self._each(lambda w: list(names))

    registered_tasks = registered

    def revoked(self) -> dict[str, list[str]]:
        """{worker: ids of revoked jobs} (revocation lives in the store, so every worker knows all)."""
        ids = [job.task_id for job in self.app.store.list_jobs([states.REVOKED], limit=10_000)]
        return self._each(lambda w: list(ids))

    def active_queues(self) -> dict[str, list[dict]]:
        """{worker: the queues it consumes}, as Celery's queue declarations."""
        from .monitoring import summarize_queues

        known = [q.name for q in summarize_queues(self.app.conf, self.app.store.counts())]

        def consumed(worker: WorkerInfo) -> list[str]:
            queues, exclude = consumers.parse(worker.queues)
            return queues if queues is not None else [name for name in known if name not in exclude]

        return self._each(lambda w: [_queue(self.app, name) for name in consumed(w)])

    def stats(self) -> dict[str, dict]:
        """{worker: pid, pool size, uptime, jobs done, broker, ...}."""
        by_name = super().stats()
        url = self.app.store.url
        broker = {"transport": "postgresql" if url.startswith("postgres") else "sqlite", "hostname": url}
        return self._each(lambda w: {**by_name.get(w.name, {}), "pool": {"max-concurrency": w.concurrency},
                                     "broker": broker, "total": {}})

    def query_task(self, *ids: Any) -> dict[str, dict[str, list]]:
        """{worker: {task id: [state, request info]}} for the jobs among ``ids`` a live worker
        holds: ``active`` (running) or ``reserved`` (claimed, not begun), as Celery answers.
        Jobs no worker holds (waiting, or over) are in no reply: ``AsyncResult`` tells those."""
        if len(ids) == 1 and isinstance(ids[0], (list, tuple)):  # Celery's older call: query_task([id1, id2])
            ids = tuple(ids[0])
        out: dict[str, dict[str, list]] = {w.name: {} for w in self._workers()}
        now = time.time()
        for task_id in dict.fromkeys(ids):
            job = self.app.store.get(str(task_id))
            if job is None or job.state not in states.LEASED_STATES:
                continue
            owner = worker_name(job)
            if owner is not None and owner in out:
                state = "active" if job.state == states.STARTED else "reserved"
                out[owner][job.task_id] = [state, _request_info(self.app, job, owner, now)]
        return out

    def conf(self, with_defaults: bool = False) -> dict[str, dict]:
        """{worker: the settings it runs with}: those changed from their defaults, or all of them
        with ``with_defaults``; secrets hidden. Each worker stored them when it started."""
        workers = self._workers()
        stored = self.app.store.worker_confs([w.name for w in workers])
        defaults = type(self.app.conf)().table(with_defaults=True)
        out: dict[str, dict] = {}
        for worker in workers:
            text = stored.get(worker.name)
            if text is None:
                out[worker.name] = {"error": "this worker stored no settings (an older litequeue); restart it"}
                continue
            values = json.loads(text)
            out[worker.name] = values if with_defaults else {
                k: v for k, v in values.items() if k not in defaults or defaults[k] != v}
        return out

    def _by_owner(self, jobs: list[Job]) -> dict[str, list[dict]]:
        """{worker: its jobs}, for each live worker and each owner of one of ``jobs``."""
        now = time.time()
        out: dict[str, list[dict]] = {w.name: [] for w in self._workers()}
        for job in jobs:
            owner = worker_name(job) or "?"
            if self.destination is None or owner in self.destination:
                out.setdefault(owner, []).append(job_dict(self.app, job, now))
        return out


class Control:
    """Remote control of jobs and workers (Celery's ``app.control``): revoke, terminate, purge,
    rate limits, ping, shutdown, and ``inspect()``."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app

    def purge(self, queue: str | None = None) -> int:
        return self.app.store.purge(queue)

    def inspect(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> CeleryInspect:
        """Celery's inspect: active, reserved, scheduled, registered, revoked, stats,
        active_queues, ping; each ``{worker name: reply}``."""
        return CeleryInspect(self.app, destination, timeout)

    def ping(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> list[dict]:
        """[{worker: {"ok": "pong"}}] for each live worker (Celery's reply list)."""
        return [{name: reply} for name, reply in self.inspect(destination).ping().items()]

    def revoke(self, task_id: str | list[str], destination: Any = None, terminate: bool = False,
               signal: str | int | None = None, **kwargs: Any) -> int:
        """Cancel jobs; with ``terminate``, also stop those running. The worker stops a running
        job's child with SIGKILL (the child holds nothing to clean up that the worker does not
        redo); a ``signal`` asked for other than SIGKILL is accepted with a warning saying so.
        ``destination`` cannot narrow it (a revoke is stored, and acts wherever the job is),
        which a warning says. Returns how many jobs were revoked."""
        _check_signal(signal, terminate)
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        if destination is not None:
            log.warning("revoke(%s, destination=%s): destination has no effect: a revoke is kept in the store and "
                        "acts on the job wherever it is, for every worker on every host; it cannot be sent to some "
                        "workers only. Leave destination out.", _ids(ids), destination)
        return self.app.store.revoke(ids, terminate=terminate)

    def terminate(self, task_id: str | list[str], destination: Any = None, signal: str | int | None = None,
                  **kwargs: Any) -> int:
        """Revoke and stop the job if it is running (Celery's ``terminate``)."""
        return self.revoke(task_id, destination, terminate=True, signal=signal)

    def rate_limit(self, task_name: str, rate_limit: str | float | None, destination: Any = None,
                   reply: bool = False, **kwargs: Any) -> list[dict] | None:
        """Change a task's rate limit at run time (Celery's call): stored, so every worker on
        every host obeys it at its next claim, and it stays until changed again. ``"queue:<name>"``
        names a queue instead; ``"0"`` lifts the limit; None goes back to the rate in the code.
        A task or queue neither the app nor the store knows is refused (InvalidOptionError).
        ``destination`` cannot narrow it (the limit is global), which a warning says. With
        ``reply``, Celery's reply list: one ``{worker: {"ok": ...}}`` per live worker, or
        ``[{"litequeue": {"ok": ...}}]`` when none is live (each obeys it when it starts)."""
        from .flow import check_rate_target, set_rate_limit

        check_rate_target(self.app, task_name)
        if destination is not None:
            log.warning("rate_limit(%s, destination=%s): a rate limit is kept in the store for every worker on "
                        "every host together; it cannot be set for some workers only. Leave destination out.",
                        task_name, destination)
        message = set_rate_limit(self.app.store, task_name, rate_limit)
        if not reply:
            return None
        return [{w.name: {"ok": message}} for w in self.inspect()._workers()] or [
            {"litequeue": {"ok": f"{message} (no worker is live: each obeys it when it starts)"}}]

    def add_consumer(self, queue: str, exchange: str | None = None, exchange_type: str | None = None,
                     routing_key: str | None = None, options: dict | None = None, destination: Any = None,
                     reply: bool = False, **kwargs: Any) -> list[dict] | None:
        """Have live workers (all, or those in ``destination``) also consume ``queue``, from
        their next claim: stored in each worker's row, which the worker follows within
        worker_poll_interval, on any host. Lasts while the worker runs (a restart starts from
        its -Q, as in Celery). With ``reply``, Celery's reply list."""
        from .routing import check_name

        check_name(queue, "add_consumer queue")
        self.app.routing.check_worker_queues([queue])
        if exchange or routing_key or exchange_type not in (None, "direct") or options:
            log.warning("add_consumer(%s): exchange, exchange_type, routing_key and options are ignored: a queue's "
                        "bindings come from task_queues, where every sender reads them.", queue)
        return self._change_consumers(destination, reply, lambda text: consumers.added(text, queue))

    def cancel_consumer(self, queue: str, destination: Any = None, reply: bool = False,
                        **kwargs: Any) -> list[dict] | None:
        """Have live workers (all, or those in ``destination``) stop consuming ``queue`` from
        their next claim (jobs they claimed already still run). A worker for which it is the only
        queue keeps it, with an error in its reply: add another queue first, or stop it."""
        from .routing import check_name

        check_name(queue, "cancel_consumer queue")
        return self._change_consumers(destination, reply, lambda text: consumers.cancelled(text, queue))

    def _change_consumers(self, destination: Any, reply: bool,
                          change: Callable[[str], tuple[str | None, str]]) -> list[dict] | None:
        replies = []
        for worker in self.inspect(destination)._workers():
            changed = self.app.store.change_worker_queues(worker.name, change)
            if changed is not None:  # (None: the worker's row went away meanwhile)
                text, message = changed
                replies.append({worker.name: {"ok": message} if text is not None else {"error": message}})
        return replies if reply else None

    def shutdown(self, destination: Any = None, **kwargs: Any) -> list[dict]:
        """Ask live workers on this machine to stop warmly (they finish their running jobs), by
        sending them SIGTERM. Workers on other machines (PostgreSQL) are reported, not reached."""
        replies = []
        here = socket.gethostname()
        for worker in self.inspect(destination)._workers():
            if worker.hostname != here:
                replies.append({worker.name: {"error": f"runs on {worker.hostname}; stop it there"}})
                continue
            try:
                os.kill(worker.pid, signals_module.SIGTERM)
                replies.append({worker.name: {"ok": "shutting down"}})
            except ProcessLookupError:
                replies.append({worker.name: {"error": "not running"}})
        return replies


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def _consumes(worker: WorkerInfo, queue: str) -> bool:
    return consumers.consumes(worker.queues, queue)


def _request_info(app: LiteQueue, job: Job, owner: str, now: float) -> dict:
    """Celery's request info for a held job (id, name, args, kwargs, type, hostname, time_start,
    acknowledged, delivery_info, worker_pid), with litequeue's job fields beside them."""
    return {**job_dict(app, job, now), "type": job.task, "hostname": owner, "acknowledged": not job.acks_late,
            "delivery_info": {"exchange": "", "routing_key": job.routing_key, "priority": job.priority,
                              "redelivered": job.attempts > 1},
            "worker_pid": None}


def _queue(app: LiteQueue, name: str) -> dict:
    declared = next((q for q in app.conf.task_queues or () if q.name == name), None)
    exchange = (declared.exchange if declared else None) or app.conf.task_default_exchange
    return {"name": name, "exchange": {"name": exchange, "type": app.conf.task_default_exchange_type},
            "routing_key": declared.binding if declared else name, "durable": True,
            "delivery_mode": declared.delivery_mode if declared else 2}


def _check_signal(signal: str | int | None, terminate: bool) -> None:
    """Refuse a ``signal`` that names none; warn when one other than SIGKILL was asked for (None:
    the caller asked for none, and SIGKILL is simply what litequeue does)."""
    if signal is None:
        return
    try:
        name = signal if isinstance(signal, str) else signals_module.Signals(signal).name
    except ValueError:
        name = str(signal)
    if not isinstance(getattr(signals_module, name, None), signals_module.Signals):
        raise InvalidOptionError(f"revoke(signal={signal!r}) names no signal; use a name like 'SIGTERM'.")
    if terminate and name != "SIGKILL":
        log.warning("revoke(terminate=True, signal=%s): litequeue stops a running job's child with SIGKILL, "
                    "not %s; leave signal out to say nothing.", name, name)
