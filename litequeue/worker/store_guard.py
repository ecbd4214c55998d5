"""Calling the store from the worker's loop without ever letting it crash the worker.

A busy or failing store is logged and the loop carries on; while the database server is
unreachable, calls wait out a growing backoff instead of hammering it. A store that can no longer
be trusted (corrupt, or its file deleted or replaced) is fatal: it is logged once, no further
call reaches it, and the worker stops with a non-zero exit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import StoreCorrupt, StoreError, StoreFileChanged, StoreUnavailable

log = logging.getLogger("litequeue.worker")
BACKOFF_MAX = 10.0  # seconds between reconnection attempts, at most
FATAL = (StoreCorrupt, StoreFileChanged)


class StoreGuard:
    """Wraps store calls with logging and a reconnection backoff."""

    def __init__(self) -> None:
        self.backoff = 0.0  # seconds; grows while the database server is unreachable
        self.retry_at = 0.0
        self.fatal: StoreError | None = None  # set once the store cannot be trusted any more

    @property
    def waiting(self) -> bool:
        """True while the store is unreachable and its backoff has not run out."""
        return time.monotonic() < self.retry_at

    def call(self, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """``fn(*args)``, or ``default`` when the store failed (logged) or is in backoff."""
        if self.waiting or self.fatal is not None:
            return default
        try:
            result = fn(*args)
        except StoreUnavailable as exc:
            self.lost(exc)
            return default
        except FATAL as exc:
            self.fail(exc)
            return default
        except StoreError as exc:
            log.warning("%s", exc)
            return default
        self.back()
        return result

    def fail(self, exc: StoreError) -> None:
        """The store cannot be trusted any more: say so once; the worker stops."""
        if self.fatal is None:
            self.fatal = exc
            log.error("Stopping: %s", exc)

    def lost(self, exc: StoreError) -> None:
        self.backoff = min(max(self.backoff * 2, 0.2), BACKOFF_MAX)
        self.retry_at = time.monotonic() + self.backoff
        log.warning("%s (retrying in %.1f s)", exc, self.backoff)

    def back(self) -> None:
        if self.backoff:
            log.warning("Reconnected to the store.")
            self.backoff = 0.0
