"""What the limits hold back now, for status, inspect and JSON (a mixin of ``Store``)."""

from __future__ import annotations

import time
from typing import NamedTuple

from .concurrency_slots import HELD
from .mixin import StoreMixin
from .models import CLAIMABLE


class HeldBack(NamedTuple):
    """Jobs that are due but held back by a limit (``Store.held_back()``)."""

    limit: str  # "task:<name>", "queue:<name>", or the concurrency key "<task>\x1f<value>"
    kind: str  # "rate" or "concurrency"
    waiting: int  # due jobs held back
    until: float | None  # rate: when the next may start
    running: int | None  # concurrency: running now
    concurrency: int | None


class HeldBackStore(StoreMixin):
    """held_back."""

    def held_back(self) -> list[HeldBack]:
        """Due jobs that a limit holds back now, per limit: rate limiters not yet open, and
        concurrency keys and queues whose slots are all taken."""
        now = time.time()
        out: list[HeldBack] = []
        with self.errors():
            rows = self._limit_rows() if self._limits_in_force() is not None else []
            for r in rows:
                kind, _, target = r.name.partition(":")
                column = "task" if kind == "task" else "queue"
                if r.interval and r.next_at and r.next_at > now:
                    waiting = self._count(f"{column} = ? AND {CLAIMABLE}", (target,))
                    if waiting:
                        out.append(HeldBack(r.name, "rate", waiting, r.next_at, None, None))
                if r.concurrency and kind == "queue":
                    running = self._count(f"{HELD} AND queue = ?", (target,))
                    waiting = self._count(f"queue = ? AND {CLAIMABLE}", (target,)) if running >= r.concurrency else 0
                    if waiting:
                        out.append(HeldBack(r.name, "concurrency", waiting, None, running, r.concurrency))
                if r.concurrency and kind == "task":
                    out += self._held_keys(target, r.concurrency)
        return out

    def _held_keys(self, task: str, concurrency: int) -> list[HeldBack]:
        sql = (f"SELECT flow_key, COUNT(*) FROM lq_jobs WHERE {HELD} AND flow_key IS NOT NULL "
               "GROUP BY flow_key")
        full = [(k, n) for k, n in self.db.execute_sql(sql).fetchall()
                if n >= concurrency and (k == task or k.startswith(task + "\x1f"))]
        out = []
        for key, running in full:
            waiting = self._count(f"flow_key = ? AND {CLAIMABLE}", (key,))
            if waiting:
                out.append(HeldBack(key, "concurrency", waiting, None, running, concurrency))
        return out

    def _count(self, where: str, params: tuple) -> int:
        return self.db.execute_sql(self.sql(f"SELECT COUNT(*) FROM lq_jobs WHERE {where}"), params).fetchone()[0]
