"""What the worker's loop does on timers between its turns: the heartbeat (lease renewal, rescue
of expired leases, the worker's row), beat's tick under -B, remote control, and result expiry."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from . import expiry

if TYPE_CHECKING:
    from .consumer import Worker

log = logging.getLogger("litequeue.worker")
PRUNE_EVERY = 60.0  # seconds between result-expiry sweeps


def on_timers(worker: Worker) -> None:
    """Run whatever has fallen due."""
    if worker.listener is not None:
        worker.listener.tend()
    now = time.monotonic()
    if beat_due(worker):
        worker.store_call(heartbeat, worker)
    if worker.scheduler is not None and time.time() >= worker.next_tick:
        delay = worker.store_call(worker.scheduler.tick, default=worker.app.conf.worker_poll_interval)
        worker.next_tick = time.time() + delay
    if worker.remote is not None and worker.remote.due():
        worker.store_call(worker.remote.look)
    if now >= worker.next_prune:
        worker.next_prune = now + PRUNE_EVERY
        worker.store_call(expiry.prune_expired, worker.app.store, worker.app.conf)


def beat_due(worker: Worker) -> bool:
    """Whether a heartbeat is due now (the next is then counted from now)."""
    now = time.monotonic()
    if now < worker.next_beat:
        return False
    worker.next_beat = now + worker.app.conf.worker_heartbeat_interval
    return True


def heartbeat(worker: Worker) -> None:
    """Renew the leases of what the worker holds (acting on revokes flagged on them), say it is
    alive, check the clock, and rescue jobs whose lease ran out."""
    assert worker.pool is not None
    store = worker.app.store
    store.check_file()  # a deleted or replaced database file stops the worker (StoreFileChanged)
    put_back_lost_claim(worker)  # first: its rows are not to be given up as lost
    wake = worker.wake_claims
    spare_since = wake.armed_at if wake is not None and wake.armed is not None else None
    held = worker.leases.renew(store, held_ids(worker), worker.pool.running(), spare_since)
    flagged = [job_id for job_id, revoked in held.items() if revoked]
    if flagged:  # (a wake-up has usually acted on them already)
        worker.act_on_revokes(store.revoke_requests(flagged))
    worker.reserved = deque(job for job in worker.reserved if job.id in held)
    worker.leases.forget_all_but(worker.pool.held())
    store.heartbeat(worker.name, worker.processed)
    worker.clock_watch.check(store)
    for task_id, task, state in store.rescue_expired():
        log.warning("Task %s[%s] lost its worker (lease expired); now %s.", task, task_id, state)


def put_back_lost_claim(worker: Worker, stopping: bool = False) -> None:
    """An armed pool process died before reporting: put back what it claimed (never begun) now.
    Until that is done (the store may be busy) no other is armed, whose claims would be leased
    since too. ``stopping``: a cold stop killed it, maybe just after it began its claim."""
    wake = worker.wake_claims
    if wake is None or wake.lost_since is None:
        return
    worker.leases.release_unreported(worker.app.store, held_ids(worker), wake.lost_since, stopping)
    wake.lost_since = None


def held_ids(worker: Worker) -> list[int]:
    """The jobs the worker really holds: running, waiting in the pool's feed, claimed ahead, or
    finished with an outcome not yet written."""
    assert worker.pool is not None
    held = [job.id for job in worker.pool.held()] + [job.id for job in worker.pool.unstarted]
    return held + [job.id for job in worker.reserved] + [o.job_id for o in worker.pending]
