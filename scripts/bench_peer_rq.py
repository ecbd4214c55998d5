"""RQ, for ``bench.py --compare`` (tasks and adapter in one module).

Worker: ``rq worker-pool -n 2 --url redis://127.0.0.1:6379/15`` (default settings otherwise).
"""

from __future__ import annotations

import bench_ledger
from bench_peer_common import REDIS_DB, REDIS_HOST, REDIS_PORT, REDIS_URL, SCRIPTS, PeerSystem, flush_redis, venv_bin
from redis import Redis
from rq import Queue

BATCH = 1_000


def noop():
    bench_ledger.mark()


def stamp(tag):
    bench_ledger.stamp(tag)


class System(PeerSystem):
    bulk_api = "Queue.enqueue_many([Queue.prepare_data(noop) x 1,000]) per batch"

    def __init__(self, workdir: str, options: dict) -> None:
        super().__init__(workdir, options)
        self.queue = Queue("default", connection=Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB))

    def reset(self) -> None:
        flush_redis()
        self.ledger.reset()

    def enqueue_each(self, n: int) -> None:
        for _ in range(n):
            self.queue.enqueue(noop)

    def enqueue_bulk(self, n: int) -> None:
        for start in range(0, n, BATCH):
            self.queue.enqueue_many([Queue.prepare_data(noop) for _ in range(min(BATCH, n - start))])

    fill = enqueue_bulk

    def send_stamp(self, tag: str) -> None:
        self.queue.enqueue(stamp, tag)

    def worker_command(self, burst: bool) -> tuple[list[str], str, dict]:
        return [venv_bin("rq"), "worker-pool", "-n", "2", "--url", REDIS_URL], SCRIPTS, self.env()
