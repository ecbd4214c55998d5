"""Celery with a Redis broker, for ``bench.py --compare`` (tasks and adapter in one module).

Worker: ``celery -A bench_peer_celery worker --concurrency 2 --loglevel WARNING`` (prefork,
default settings otherwise; no result backend, as Celery ships).
"""

from __future__ import annotations

import time

import bench_ledger
from bench_peer_common import REDIS_URL, SCRIPTS, PeerSystem, flush_redis, venv_bin
from celery import Celery, group

app = Celery("bench_peer_celery", broker=REDIS_URL)
BATCH = 1_000


@app.task
def noop():
    bench_ledger.mark()


@app.task
def stamp(tag):
    bench_ledger.stamp(tag)


@app.task
def work(tag, seconds):
    bench_ledger.stamp(tag)
    time.sleep(seconds)


class System(PeerSystem):
    bulk_api = "group(noop.s() x 1,000).apply_async() per batch"

    def reset(self) -> None:
        flush_redis()
        self.ledger.reset()

    def enqueue_each(self, n: int) -> None:
        for _ in range(n):
            noop.delay()

    def enqueue_bulk(self, n: int) -> None:
        for start in range(0, n, BATCH):
            group(noop.s() for _ in range(min(BATCH, n - start))).apply_async()

    fill = enqueue_bulk

    def send_stamp(self, tag: str) -> None:
        stamp.delay(tag)

    def send_work(self, tag: str, seconds: float) -> None:
        work.delay(tag, seconds)

    def worker_command(self, burst: bool) -> tuple[list[str], str, dict]:
        argv = [venv_bin("celery"), "-A", "bench_peer_celery", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
        return argv, SCRIPTS, self.env()


@app.task
def chain_step(x, n):
    """A step of bench_workflows.py's chain: the last one stamps the ledger."""
    if x + 1 >= n:
        bench_ledger.stamp("chain-end")
    return x + 1
