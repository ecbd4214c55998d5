"""Claiming at the wake-up: while a worker is idle, one of its pool children watches the store's
wake-up socket and claims the next job itself, so the job starts after one process wake-up
instead of two (the main process's, then the child's after the hand-over through the feed).

The main process arms an idle child (an ARM frame on that child's own pipe, carrying the claim
to make) and stops watching the socket itself. Every arming ends with exactly one report from
the child: what it claimed and began, what it claimed but did not begin (expired), that it woke
and found nothing, that it took a job from the feed instead, or that it was disarmed. The report
gives the socket back to the main process and counts as a wake-up, so nothing a producer said is
missed, and the main process takes the claimed job in as if it had handed it over.

Only where a child can share the socket: on SQLite (a PostgreSQL wake-up is a connection of the
main process's own) and with forked children (they inherit it). The child side is child_wake.py.
"""

from __future__ import annotations

import itertools
import logging
import selectors
import time
from collections.abc import Callable
from typing import Any

from ..store import ClaimRequest, Job
from ..store.records import FIELD_NAMES
from .children import Child, Limits

log = logging.getLogger("litequeue.worker")
PAUSE_AFTER_FAILURE = 30.0  # seconds without arming after a child could not claim

ARM, DISARM, REPORT = "arm", "disarm", "armed"
# What a report says happened (its third value).
CLAIMED, UNBEGUN, WOKE, LEFT, DISARMED, FAILED = "claimed", "unbegun", "woke", "left", "disarmed", "failed"
REPORT_LENGTH = 5  # (REPORT, token, what happened, detail, the job's values or None)


def arm_frame(token: int, wake_fd: int, owner: str, request: ClaimRequest) -> tuple:
    """What the main process sends a child to arm it (plain values: the pipe encodes with marshal)."""
    return (ARM, token, wake_fd, owner, tuple(_plain(v) for v in request))


def report_frame(token: int, what: str, detail: float | str | None = None, job: Job | None = None) -> tuple:
    """A child's report that its arming ended, and how. ``detail``: after a claim, when a rate
    limit holding jobs back opens (or None); after a failure, what went wrong."""
    values = None if job is None else tuple(getattr(job, name) for name in FIELD_NAMES)
    return (REPORT, token, what, detail, values)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


class WakeClaims:
    """The main process's side: which child is armed, and what the reports said.

    ``adopt(job)`` (the worker's) takes in a job a child claimed and returns its limits. After
    ``collect``, ``heard`` says a report came in since the worker last looked (a wake-up), and
    ``held_until`` what the child's claim said of rate limits holding jobs back."""

    def __init__(self, listener: Any, selector: selectors.BaseSelector, children: Callable[[], list[Child]],
                 adopt: Callable[[Job], Limits], clock: Callable[[], float]) -> None:
        self.listener = listener
        self.selector = selector
        self.children = children  # the pool's children now
        self.adopt = adopt
        self.clock = clock  # the store's lease clock
        self.armed_at = 0.0  # (lease clock) when the child armed now was armed: what it claims is leased later
        self.armed: Child | None = None  # the child armed, until its report comes
        self.disarming = False  # a DISARM was sent to it
        self.heard = False
        self.claimed = False  # the last report's child claimed a job, or could not (the worker claims next)
        self.held_until: float | None = None
        self.lost_since: float | None = None  # the armed child died unreported: what it claimed since is put back
        self._tokens = itertools.count(1)
        self._token = 0
        self._paused_until = 0.0  # (monotonic) after a failed claim, the main process claims alone

    def arm(self, owner: str, request: ClaimRequest) -> bool:
        """Arm an idle child to claim ``request`` at the next wake-up; False if none is idle."""
        if self.armed is not None or self.lost_since is not None or time.monotonic() < self._paused_until:
            return False
        idle = [c for c in self.children() if c.running is None and not c.retiring and c.killed_for is None]
        if not idle:
            return False
        child, self._token = idle[-1], next(self._tokens)
        self.armed_at = self.clock()
        try:
            child.channel.send(arm_frame(self._token, self.listener.fileno(), owner, request))
        except OSError:
            return False  # it died: collect reports that
        self.selector.unregister(self.listener)  # the child reads the wake-ups now
        self.armed, self.disarming = child, False
        log.debug("Pool process %s watches for wake-ups.", child.pid)
        return True

    def disarm(self) -> None:
        """Ask the armed child to stop watching (a stop); its report still comes."""
        if self.armed is None or self.disarming:
            return
        self.disarming = True
        try:
            self.armed.channel.send((DISARM, self._token))
        except OSError:
            pass  # it died: collect reports that

    def on_report(self, child: Child, frame: tuple, queued: dict[int, tuple[Job, Limits]],
                  unstarted: list[Job]) -> None:
        """A child's report: the wake-up socket is the main process's again. A job claimed and
        begun goes into ``queued`` (its "began" follows in the same write); one claimed but not
        begun (it had expired) into ``unstarted``, for the worker to record."""
        _, token, what, detail, values = frame
        if child is self.armed and token == self._token:
            self._ended(child, what, detail)
        else:  # (no known sequence leads here) its job is still taken in: never dropped
            log.warning("A report of arming %s came from child %s, which was not armed.", token, child.pid)
        if values is None:
            return
        job = Job(*values)
        limits = self.adopt(job)
        log.debug("Task %s[%s] claimed by pool process %s at a wake-up.", job.task, job.task_id, child.pid)
        if what == CLAIMED:
            queued[job.id] = (job, limits)
        else:
            unstarted.append(job)

    def _ended(self, child: Child, what: str, detail: Any) -> None:
        self._end()
        self.heard = self.heard or what in (CLAIMED, UNBEGUN, WOKE, FAILED)
        self.claimed = what in (CLAIMED, UNBEGUN, FAILED)  # more may be due: the worker claims next
        self.held_until = detail if what in (CLAIMED, UNBEGUN, WOKE) else None
        if what == FAILED:
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
            log.warning("Pool process %s could not claim at a wake-up (%s); the worker's main process claims alone "
                        "for the next %g s.", child.pid, detail, PAUSE_AFTER_FAILURE)

    def on_death(self, child: Child) -> None:
        """The armed child died before reporting: the socket is the main process's again, and
        whatever it heard counts as a wake-up, and a job it claimed unreported (never begun) is
        put back by the worker (``lost_since``)."""
        if child is self.armed:
            self._end()
            self.heard, self.claimed, self.held_until = True, True, None
            self.lost_since = self.armed_at

    def take_heard(self) -> bool:
        heard, self.heard = self.heard, False
        return heard

    def _end(self) -> None:
        self.armed, self.disarming = None, False
        self.selector.register(self.listener, selectors.EVENT_READ, self.listener)
