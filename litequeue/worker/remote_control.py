"""What ``app.control`` asks of a running worker, read from the store about once a second (no
broker broadcast: the orders and the answers live in the store, where every worker reads them).

- The worker's row holds the settings it runs with (``inspect conf``), written at start.
- ``add_consumer`` / ``cancel_consumer`` rewrite the queues in the worker's row; the worker
  follows the row at its next look, for its next claim.
- A job revoked while it waited in the store (queued, scheduled, waiting to retry) is never
  claimed, so no worker would discard it; a worker consuming its queue takes the revoke's
  notice and sends Celery's ``task_revoked`` for it (once per job: taking a notice is an
  atomic update), at start and then at each look. Only a worker with a ``task_revoked``
  receiver takes notices: as in Celery, a worker without one sends nothing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from .. import consumers, signals
from . import job_signals
from .queues import ClaimOrder

if TYPE_CHECKING:
    from .consumer import Worker

log = logging.getLogger("litequeue.worker")
NOTICES_PER_LOOK = 500  # revoke notices taken per look (the rest at the next one)


class RemoteControl:
    """One worker's side of app.control, on a timer of worker_poll_interval."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.queues_text = consumers.render(worker.queues, worker.options.exclude)
        self._next_look = 0.0

    def conf(self) -> str:
        """The settings this worker runs with, as stored in its row (``inspect conf`` reads them)."""
        return json.dumps(self.worker.app.conf.table(with_defaults=True))

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next_look:
            return False
        self._next_look = now + self.worker.app.conf.worker_poll_interval
        return True

    def look(self) -> None:
        """Follow the queues in this worker's row; announce revokes of jobs that never ran."""
        self._follow_queues()
        if signals.task_revoked.receivers:
            self._announce_revokes()

    def _follow_queues(self) -> None:
        text = self.worker.app.store.worker_queues(self.worker.name)
        if text is None or text == self.queues_text:
            return
        worker = self.worker
        queues, exclude = consumers.parse(text)
        worker.queues = queues
        worker.claim_order = ClaimOrder(queues, exclude, worker.options.queue_order == "round-robin", worker.lease)
        if worker.wake_claims is not None:  # armed with the old queues: armed again with the new
            worker.wake_claims.disarm()
        log.info("Now consuming from %s (changed by app.control).", consumers.describe(text))
        self.queues_text = text

    def _announce_revokes(self) -> None:
        worker = self.worker
        queues, exclude = consumers.parse(self.queues_text)
        while True:
            jobs = worker.app.store.take_revoke_notices(queues, exclude, NOTICES_PER_LOOK)
            for job in jobs:
                job_signals.revoked(worker.resolver, job, worker.name)
            if len(jobs) < NOTICES_PER_LOOK:
                return
