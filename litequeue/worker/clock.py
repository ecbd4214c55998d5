"""Noticing that this machine's clock disagrees with another worker's.

On SQLite every lease follows the clock of the process that wrote it, so a worker whose clock
runs ahead sees healthy workers' leases as expired and takes their running jobs (fencing keeps
their outcomes apart, but the jobs run twice). The heartbeats other workers write are read at
each of this worker's heartbeats; one written "in the future" means their clock is ahead of ours.
"""

from __future__ import annotations

import logging
import time

from ..store import Store

log = logging.getLogger("litequeue.worker")
TOLERANCE = 2.0  # seconds: a heartbeat this far in the future is a clock difference, not a delay


class ClockWatch:
    """Warns once per other worker whose heartbeats come from a clock ahead of this one."""

    def __init__(self, own_name: str) -> None:
        self.own_name = own_name
        self.warned: set[str] = set()

    def check(self, store: Store) -> None:
        now = time.time()
        for worker in store.workers():
            ahead = worker.heartbeat_at - now
            if (worker.name != self.own_name and worker.stopped_at is None and ahead > TOLERANCE
                    and worker.name not in self.warned):
                self.warned.add(worker.name)
                log.warning(
                    "The clock of worker %s is %.0f s ahead of this machine's (its last heartbeat is in the "
                    "future). Leases follow each process's clock on SQLite: a worker whose clock runs ahead "
                    "takes the running jobs of others, which then run twice. Keep the clocks in step (NTP).",
                    worker.name, ahead)
