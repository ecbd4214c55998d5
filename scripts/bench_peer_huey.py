"""Huey with SQLite or Redis storage, for ``bench.py --compare`` (option ``storage``).

Worker: ``huey_consumer bench_peer_huey.huey -k process -w 2`` (default settings otherwise).
"""

from __future__ import annotations

import os
import time

import bench_ledger
from bench_peer_common import REDIS_DB, REDIS_HOST, REDIS_PORT, SCRIPTS, PeerSystem, option, venv_bin
from huey import RedisHuey, SqliteHuey

STORAGE = option("storage", "sqlite")
if STORAGE == "sqlite":
    huey = SqliteHuey("bench", filename=os.path.join(os.path.dirname(os.environ["BENCH_LEDGER"]), "huey.sqlite"))
else:
    huey = RedisHuey("bench", host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)


@huey.task()
def noop():
    bench_ledger.mark()


@huey.task()
def stamp(tag):
    bench_ledger.stamp(tag)


@huey.task()
def work(tag, seconds):
    bench_ledger.stamp(tag)
    time.sleep(seconds)


class System(PeerSystem):
    bulk_api = "noop.map(...) per 1,000 (Huey enqueues each)" if hasattr(noop, "map") else None

    def reset(self) -> None:
        huey.flush()
        self.ledger.reset()

    def enqueue_each(self, n: int) -> None:
        for _ in range(n):
            noop()

    def enqueue_bulk(self, n: int) -> None:
        for start in range(0, n, 1_000):
            noop.map([() for _ in range(min(1_000, n - start))])

    def fill(self, n: int) -> None:
        self.enqueue_each(n)

    def send_stamp(self, tag: str) -> None:
        stamp(tag)

    def send_work(self, tag: str, seconds: float) -> None:
        work(tag, seconds)

    def worker_command(self, burst: bool) -> tuple[list[str], str, dict]:
        return [venv_bin("huey_consumer"), "bench_peer_huey.huey", "-k", "process", "-w", "2"], SCRIPTS, self.env()
