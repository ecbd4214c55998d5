"""Concurrency slots: how many jobs of a queue, or of a task's concurrency key, may hold a worker at once.

Slots are not stored: they are counted from held (RESERVED or STARTED) rows, inside the claim's
transaction, so a job whose worker died holds its slot until its lease is rescued, and no longer.
The limits themselves are rows of ``lq_limits`` (``Limits``: per queue, and per task for its keys).
"""

from __future__ import annotations

from typing import Any

HELD = "state IN ('RESERVED', 'STARTED')"


class ConcurrencySlots:
    """The slots as one claim sees and takes them, inside its transaction."""

    def __init__(self, store: Any, task_concurrency: dict[str, int], queue_concurrency: dict[str, int]) -> None:
        db = store.db
        self.task_concurrency = task_concurrency
        self.running_keys: dict[str, int] = dict(db.execute_sql(
            f"SELECT flow_key, COUNT(*) FROM lq_jobs WHERE {HELD} AND flow_key IS NOT NULL "
            "GROUP BY flow_key").fetchall()) if task_concurrency else {}
        self.queue_room: dict[str, int] = {}
        for queue, concurrency in queue_concurrency.items():
            held = f"SELECT COUNT(*) FROM lq_jobs WHERE {HELD} AND queue = ?"
            self.queue_room[queue] = concurrency - db.execute_sql(store.sql(held), (queue,)).fetchone()[0]

    def queue_full(self, queue: str) -> bool:
        return queue in self.queue_room and self.queue_room[queue] <= 0

    def key_full(self, key: str) -> bool:
        return self.running_keys.get(key, 0) >= self.key_limit(key)

    def full_keys(self) -> list[str]:
        """The concurrency keys with no slot left."""
        return [key for key, running in self.running_keys.items() if running >= self.key_limit(key)]

    def key_limit(self, key: str) -> int:
        task = key.split("\x1f", 1)[0]
        return self.task_concurrency.get(task, 1 << 30)

    def take(self, queue: str, key: str | None) -> None:
        """Count one more job held in ``queue`` (and under ``key``)."""
        if key is not None:
            self.running_keys[key] = self.running_keys.get(key, 0) + 1
        if queue in self.queue_room:
            self.queue_room[queue] -= 1
