"""A pool child's wait for work while it is idle: the next job in the shared feed and, while the
main process has armed it (wake_claims.py), a producer's wake-up too, at which it claims the next
job itself and begins it.

The claim goes through a store connection of the child's own, opened when it is first armed and
kept: its commits skip waiting for the disk, like the main process's claims (the connection that
task code uses keeps its full durability).
"""

from __future__ import annotations

import logging
import os
import select
import stat
import time
from typing import Any

from ..store import ClaimRequest, Job, Store, open_store
from ..store.wakeup import drain_socket
from .execute import Work
from .wake_claims import ARM, CLAIMED, DISARMED, FAILED, LEFT, UNBEGUN, WOKE, report_frame
from .wire import EMPTY, Channel, FeedReader

log = logging.getLogger("litequeue.worker")


class IdleWait:
    """Waits for the next thing to do: a feed message, or a job claimed at a wake-up (as a Work).
    Either way, the report that ends an arming is left in ``outbox``, to go to the main process
    in the same write as the job's "began"."""

    def __init__(self, feed: FeedReader, channel: Channel, app: Any) -> None:
        self.feed = feed
        self.channel = channel
        self.app = app
        self.armed: tuple | None = None  # the ARM frame while armed
        self.outbox: list[tuple] = []
        self._store: Store | None = None
        self._warm = False  # a claim has run on the store connection (its statements are prepared)

    def take_outbox(self) -> list[tuple]:
        out, self.outbox = self.outbox, []
        return out

    def next(self) -> Any:
        """The next feed message (None: stop), or a Work claimed at a wake-up."""
        while True:
            ready = _wait_for([self.feed.sock.fileno(), self.channel.fd] + ([self.armed[2]] if self.armed else []))
            if self.channel.fd in ready:
                for frame in self.channel.receive(wait=False):
                    self._control(frame)
            if self.armed is not None and not self._warm:  # the first arming claims at once: the
                self._warm = True  # connection's first claim is slow, and no job waits for this one
                ready.append(self.armed[2])
            if self.feed.sock.fileno() in ready and (message := self.feed.take(wait=False)) is not EMPTY:
                self._report(LEFT, later=True)
                return message
            if self.armed is not None and self.armed[2] in ready:
                work = self._claim(self.armed)
                if work is not None:
                    return work

    def _control(self, frame: tuple) -> None:
        if frame[0] == ARM:
            self.armed = frame
            try:
                if not stat.S_ISSOCK(os.fstat(frame[2]).st_mode):
                    raise OSError(f"descriptor {frame[2]} is not the wake-up socket")
                self._open_store()
            except Exception as exc:
                self._report(FAILED, f"{type(exc).__name__}: {exc}")
        elif self.armed is not None and frame[1] == self.armed[1]:  # DISARM of this arming
            self._report(DISARMED)

    def _report(self, what: str, detail: Any = None, job: Job | None = None, later: bool = False) -> None:
        """End the arming with a report: sent now, or ``later`` with the "began" that follows."""
        if self.armed is None:
            return
        token, self.armed = self.armed[1], None
        self.outbox.append(report_frame(token, what, detail, job))
        if not later:
            self.channel.send_all(self.take_outbox())

    def _claim(self, armed: tuple) -> Work | None:
        """Claim one job for the wake-up heard; begin it unless it has expired."""
        drain_socket(armed[2])
        request = ClaimRequest(*armed[4])
        try:
            store = self._open_store()
            jobs = store.claim(armed[3], *request)
        except Exception as exc:  # the main process claims instead, and meets the error itself
            self._report(FAILED, f"{type(exc).__name__}: {exc}")
            return None
        if not jobs:
            self._report(WOKE, store.held_until)
            return None
        job = jobs[0]
        if job.expires is not None and job.expires <= time.time():
            self._report(UNBEGUN, store.held_until, job)  # the main process records it revoked
            return None
        self._report(CLAIMED, store.held_until, job, later=True)
        return Work.of(job, request.late_start)

    def _open_store(self) -> Store:
        if self._store is None:
            app = self.app
            self._store = open_store(app.url, app.conf, app.share_database, must_exist=True)
            self._store.relax_durability()
        return self._store


def _wait_for(fds: list[int]) -> list[int]:
    """The descriptors among ``fds`` that are readable (or closed), waiting for one."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll()]
