"""Which queues a worker consumes, and in what order."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ..store import Job

if TYPE_CHECKING:
    from ..app import LiteQueue


def select_queues(app: LiteQueue, queues: tuple[str, ...] | None, exclude: tuple[str, ...]) -> list[str] | None:
    """The queues a worker consumes, in order (None: every queue but ``exclude``)."""
    app.routing.check()
    if not queues:
        return None
    app.routing.check_worker_queues(queues)
    selected = [q for q in dict.fromkeys(queues) if q not in exclude]
    if not selected:
        raise ConfigurationError(f"-X excludes every queue given to -Q ({', '.join(queues)}); leave one in.")
    return selected


def interleave(jobs: list[Job], queues: list[str]) -> list[Job]:
    """One job of each queue in turn: [a1, a2, b1] -> [a1, b1, a2]."""
    groups = [[j for j in jobs if j.queue == q] for q in queues]
    return [j for turn in itertools.zip_longest(*groups) for j in turn if j is not None]


def rotate_after(queues: list[str], served: str) -> list[str]:
    """The queue order for the next round-robin claim: starting after the last queue served."""
    last = queues.index(served)
    return queues[last + 1:] + queues[:last + 1]
