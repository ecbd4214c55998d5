"""Result expiry: the worker deletes results older than ``result_expires`` (and failures older
than ``failure_expires``) in short transactions, a bounded amount per sweep."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import states

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store

# Rows result_expires prunes; FAILURE rows are kept for failure_expires (what `failed`/`retry` need).
RESULT_STATES = tuple(sorted(states.READY_STATES - {states.FAILURE}))


def prune_expired(store: Store, conf: Settings, batch: int = 500, max_batches: int = 20) -> None:
    """One sweep: delete expired results, then expired failures (each setting unset: kept)."""
    now = time.time()
    for expires, kept in ((conf.result_expires, RESULT_STATES), (conf.failure_expires, (states.FAILURE,))):
        if expires:
            _prune(store, now - expires, kept, batch, max_batches)


def _prune(store: Store, before: float, kept: tuple[str, ...], batch: int, max_batches: int) -> None:
    for _ in range(max_batches):
        if store.prune(before, kept, batch=batch) < batch:
            return
