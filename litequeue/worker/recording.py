"""Outcomes waiting to be written, and when to write them.

Outcomes are written in batches, each in one fenced transaction with the next claim. While
children are busy and jobs wait, they gather into larger batches (or for at most FLUSH_AFTER
seconds). They are kept across store hiccups; a batch the store refused is retried one outcome
at a time, so that the one it cannot take is found and recorded as a failure instead.
"""

from __future__ import annotations

import logging
import time

from ..errors import StoreError, StoreUnavailable
from ..store import Outcome
from . import outcomes
from .store_guard import FATAL, StoreGuard

log = logging.getLogger("litequeue.worker")
FLUSH_AFTER = 0.02  # seconds an outcome may wait to be written with others


class PendingOutcomes:
    """The outcomes not yet written, oldest first."""

    def __init__(self) -> None:
        self.items: list[Outcome] = []
        self.since = 0.0  # monotonic time the oldest unwritten outcome arrived
        self._singles = 0  # outcomes to write one at a time (a batch held one the store refused)

    def gathering(self, now: float, batch: int, busy: bool) -> bool:
        """Whether to wait for more outcomes before writing: fewer than ``batch`` while
        children are ``busy`` (and jobs wait), none older than FLUSH_AFTER."""
        self.since = self.since or now
        return bool(self.items) and len(self.items) < batch and busy and now - self.since < FLUSH_AFTER

    def wait_left(self) -> float | None:
        """Seconds until the oldest outcome must be written; None when none waits."""
        if not self.items:
            return None
        waited = time.monotonic() - (self.since or time.monotonic())
        return max(FLUSH_AFTER - waited, 0.0)

    def take(self) -> list[Outcome]:
        """The next batch to write (one outcome while finding a refused batch's culprit)."""
        if self._singles:
            batch, self.items, self._singles = self.items[:1], self.items[1:], self._singles - 1
        else:
            batch, self.items = self.items, []
        self.since = 0.0
        return batch

    def put_back(self, batch: list[Outcome]) -> None:
        """A batch that could not be written now (the store busy or gone): first in line again."""
        self.items = batch + self.items

    def not_written(self, batch: list[Outcome], exc: Exception, guard: StoreGuard) -> None:
        """A write of ``batch`` failed with ``exc``: keep it for later (the store unreachable,
        busy, or no longer to be trusted: ``guard`` is told), or find the outcome the store
        cannot take (any other error)."""
        if not isinstance(exc, StoreError):  # a value the store cannot take, or a bug: never fatal to the worker
            self.refused(batch, exc)
            return
        self.put_back(batch)
        if isinstance(exc, StoreUnavailable):
            guard.lost(exc)
        elif isinstance(exc, FATAL):
            guard.fail(exc)
        else:
            log.warning("Could not record %d outcome(s), will retry: %s", len(batch), exc)
            time.sleep(0.1)

    def refused(self, batch: list[Outcome], exc: Exception) -> None:
        """The store refused ``batch`` with ``exc`` (a value it cannot take, or a bug): retry
        its outcomes one by one; a lone one is recorded as a failure instead."""
        if len(batch) > 1:  # one of them: the others must not fail with it
            self.items, self._singles = batch + self.items, len(batch)
            return
        self.items = _unrecordable(batch, exc) + self.items


def _unrecordable(batch: list[Outcome], exc: Exception) -> list[Outcome]:
    """Failures to record instead of ``batch``; outcomes that were such failures already are
    dropped (their jobs come back when their leases expire)."""
    log.error("Could not record %d outcome(s) (%s); recording them as failures instead.",
              len(batch), outcomes.describe(exc))
    return [outcomes.unrecordable(o.job_id, o.attempt, exc) for o in batch
            if not (o.exc_message or "").startswith(outcomes.NOT_STORED)]
