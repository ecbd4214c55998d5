"""A worker's start and stop: what happens before its loop runs and after it ends."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from .. import serialization, signals
from ..flow import code_limits
from ..store import WorkerInfo
from . import housekeeping, logs
from .execute import ChildContext
from .pool import Pool
from .pools import make_pool
from .remote_control import RemoteControl
from .solo import SoloPool
from .solo_guard import SoloGuard
from .wake_claims import WakeClaims

if TYPE_CHECKING:
    from .consumer import Worker

log = logging.getLogger("litequeue.worker")


def start(worker: Worker) -> None:
    """Everything before the loop: signals, beat (-B), the pool, the wake-up, the worker's row,
    the limits the code declares, the banner."""
    store = worker.app.store
    store.relax_durability()
    signals.celeryd_init.send(sender=worker.name, instance=worker, conf=worker.app.conf, options=vars(worker.options))
    signals.worker_init.send(sender=worker)
    worker.stop_requests.install_signal_handlers()
    _start_beat(worker)
    ctx = ChildContext(worker.resolver, worker.name, serialization.accepted_types(worker.app.conf.accept_content),
                       serialization.content_type_for(worker.app.conf.result_serializer))
    worker.pool = make_pool(worker.options, worker.app.conf, worker.concurrency, ctx)
    worker.listener = store.listener(worker.name)  # first: forked children inherit it (wake_claims.py)
    if isinstance(worker.pool, SoloPool):  # its jobs run in this loop: a thread watches beside each
        worker.pool.beside = SoloGuard(worker, worker.pool, on_stop_request)
    worker.pool.start()
    for watched in (worker.listener, worker.stop_requests):
        if watched is not None:
            worker.pool.watch(watched)
    _share_wake_ups(worker)
    worker.remote = RemoteControl(worker)
    _warn_if_name_taken(worker)
    store.register_worker(WorkerInfo(
        worker.name, worker.hostname, os.getpid(), worker.concurrency, worker.remote.queues_text,
        time.time(), time.time(), 0, conf=worker.remote.conf()))
    worker.remote.look()  # revokes made while no worker of these queues ran
    store.declare_limits(*code_limits(worker.app))  # rate and concurrency limits, for every worker
    logs.banner(worker)
    conf = worker.app.conf
    logs.short_lease_warning(worker.lease, conf.worker_heartbeat_interval, conf.sqlite_busy_timeout)
    signals.worker_ready.send(sender=worker)

def _share_wake_ups(worker: Worker) -> None:
    """An idle child may answer a wake-up itself (wake_claims.py): with forked children that
    inherit a local wake-up socket, outside --burst (whose worker polls and ends)."""
    pool, listener = worker.pool, worker.listener
    if isinstance(pool, Pool) and pool.forks and getattr(listener, "shareable", False) and not worker.options.burst:
        pool.wake_claims = worker.wake_claims = WakeClaims(
            listener, pool.selector, lambda: pool.children, worker.adopt, worker.app.store.lease_clock)


def _warn_if_name_taken(worker: Worker) -> None:
    """Celery's DuplicateNodenameWarning: a live worker of the same name would share one row with
    this one, so status and inspect would show the two as one. The worker still starts."""
    from ..monitoring import worker_state

    now, here = time.time(), (worker.hostname, os.getpid())
    for other in worker.app.store.workers():
        if other.name == worker.name and (other.hostname, other.pid) != here \
                and worker_state(worker.app, other, now) == "running":
            log.warning("A live worker named %s is already registered in the store (pid %d on %s): the two will "
                        "show as one in status and inspect. Give each worker its own name with -n (like -n w2@%%h).",
                        other.name, other.pid, other.hostname)


def _start_beat(worker: Worker) -> None:
    """With -B, beat runs inside this main loop rather than in a thread: no thread is
    running when the pool forks (or re-forks a replacement child), and the schedule's
    store writes go through this process's connection like every other write."""
    if worker.options.beat:
        from ..beat import Beat

        worker.scheduler = Beat(worker.app)
        worker.scheduler.start()
        signals.beat_embedded_init.send(sender=worker.scheduler)
        worker.next_tick = time.time() + worker.scheduler.tick()


def stop(worker: Worker) -> None:
    """Everything after the loop: jobs not begun go back, running ones too on a cold stop, the
    last outcomes are written, the worker's row marked stopped."""
    if worker.pool is not None:
        queued = worker.pool.take_back()  # first: nothing more is begun
        try:
            worker.wait(0.0)  # what children said meanwhile: jobs begun, and ended (recorded below)
            _hear_armed_child(worker)
        except Exception:  # the loop may have stopped on this very error: release the jobs anyway
            log.exception("Could not read the pool's last reports; releasing its jobs.")
        # Running, or taken from the feed by a child whose "began" has not arrived yet.
        running = [job.id for job in [*worker.pool.running(), *(job for job, _ in worker.pool.queued.values())]]
        # A child still armed may be inside a claim (waiting for the write lock): it must not live on to run it.
        wake = worker.wake_claims
        claiming = wake is not None and wake.armed is not None
        if wake is not None and claiming:  # what it claimed unreported is put back with the rest
            wake.lost_since = wake.armed_at
        worker.pool.stop(kill=bool(running) or claiming)
        worker.handed_back = len(running)
        if running:  # cold shutdown: hand the jobs back at once
            log.warning("Cold shutdown: releasing %d running job(s) back to the queue.", len(running))
        # pool.unstarted may hold a job whose child was killed for the one before it, just as it began
        unstarted = [job.id for job in [*queued, *worker.reserved]]
        worker.store_call(worker.app.store.release, worker.owner, running + [job.id for job in worker.pool.unstarted])
        worker.store_call(worker.app.store.release, worker.owner, unstarted, True)  # their rate grants too
        worker.pool.unstarted = []
        worker.reserved.clear()
        worker.store_call(housekeeping.put_back_lost_claim, worker, True)
    worker.flush()
    worker.store_call(worker.app.store.heartbeat, worker.name, worker.processed, True)
    if worker.listener is not None:
        worker.listener.close()
    worker.stop_requests.close()
    signals.worker_shutdown.send(sender=worker)
    if worker.options.burst:
        logs.burst_summary(worker, time.monotonic() - worker.started_at)
    logs.stopped(worker)


def _hear_armed_child(worker: Worker, within: float = 0.5) -> None:
    """A child armed to claim at a wake-up reports within milliseconds: wait for that report, so
    that a job it claimed as the stop came is released with the rest rather than left leased."""
    wake, deadline = worker.wake_claims, time.monotonic() + within
    if wake is not None:
        wake.disarm()
        while wake.armed is not None and time.monotonic() < deadline:
            worker.wait(0.05)


def on_stop_request(worker: Worker) -> None:
    """A stop was asked for (warm or cold): give back the jobs not begun, say so, and tell receivers,
    once for each. (Any signal with a handler wakes the loop, as SIGALRM does for a solo job's time
    limit: such a wake-up, or a stop already acted on, changes nothing.)"""
    worker.stop_requests.drain()
    how = "Cold" if worker.cold else "Warm"
    if not worker.stopping or worker.stop_heard == how:
        return
    worker.stop_heard = how
    if worker.wake_claims is not None:
        worker.wake_claims.disarm()  # its report comes before the worker stops (Pool.holding)
    waiting = [*worker.reserved, *worker.pool.take_back()] if worker.pool else list(worker.reserved)
    if waiting:  # prefetched jobs not begun go back now, for other workers
        worker.store_call(worker.app.store.release, worker.owner, [job.id for job in waiting], True)
        worker.reserved.clear()
    signals.worker_shutting_down.send(sender=worker.name, sig=None, how=how, exitcode=0)
    if worker.cold:
        log.warning("Cold shutdown: releasing running jobs.")
    else:
        hint = "send the signal again to stop now" if worker.stop_requests.by_signal else "stop(cold=True) stops now"
        running = len(worker.pool.running()) if worker.pool else 0
        log.info("Warm shutdown: finishing %d running job(s); %s.", running, hint)
