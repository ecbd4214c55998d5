"""What the peers' benchmark adapters share (they run inside the peers' virtualenvs).

Redis is only ever 127.0.0.1:6379, database 15, which the benchmark empties between runs.
Completion and start times come from bench_ledger files, not from the peer's own bookkeeping.
"""

from __future__ import annotations

import os
import sys

from bench_ledger import Ledger

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
SCRIPTS = os.path.dirname(os.path.abspath(__file__))


def venv_bin(name: str) -> str:
    """A console script of the running virtualenv."""
    return os.path.join(os.path.dirname(sys.executable), name)


def flush_redis() -> None:
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).flushdb()


def option(name: str, default: str) -> str:
    return os.environ.get(f"BENCH_OPT_{name.upper()}", default)


class PeerSystem:
    """The ledger-reading half of a peer adapter; subclasses send jobs and name the worker."""

    burst_drain = False
    bulk_api: str | None = None

    def __init__(self, workdir: str, options: dict) -> None:
        self.workdir = workdir
        self.ledger = Ledger(os.environ["BENCH_LEDGER"])

    def env(self) -> dict:
        path = os.pathsep.join(p for p in (SCRIPTS, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path}

    def broker(self) -> str:
        """What a fresh producer needs to reach this run's jobs: nothing (a fixed Redis database,
        or a file in the run's directory)."""
        return ""

    def attach(self, broker: str) -> None:
        pass

    def done_count(self) -> int:
        return self.ledger.done()

    def stamps(self) -> dict[str, float]:
        return self.ledger.stamps()

    def work_stamps(self) -> dict[str, float]:
        return {tag: t for tag, t in self.ledger.stamps().items() if tag.startswith("w")}

    def done_time(self, tag: str) -> float:
        return self.ledger.stamps()[tag]

    def close(self) -> None:
        pass
