"""Dramatiq with a Redis broker, for ``bench.py --compare`` (tasks and adapter in one module).

Worker: ``dramatiq bench_peer_dramatiq --processes 2 --threads 1`` (default middleware).
Dramatiq has no bulk enqueue.
"""

from __future__ import annotations

import bench_ledger
import dramatiq
from bench_peer_common import REDIS_DB, REDIS_HOST, REDIS_PORT, SCRIPTS, PeerSystem, venv_bin
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
dramatiq.set_broker(broker)


@dramatiq.actor
def noop():
    bench_ledger.mark()


@dramatiq.actor
def stamp(tag):
    bench_ledger.stamp(tag)


class System(PeerSystem):
    def reset(self) -> None:
        broker.flush_all()
        self.ledger.reset()

    def enqueue_each(self, n: int) -> None:
        for _ in range(n):
            noop.send()

    fill = enqueue_each

    def send_stamp(self, tag: str) -> None:
        stamp.send(tag)

    def worker_command(self, burst: bool) -> tuple[list[str], str, dict]:
        argv = [venv_bin("dramatiq"), "bench_peer_dramatiq", "--processes", "2", "--threads", "1"]
        return argv, SCRIPTS, self.env()
