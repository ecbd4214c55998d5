"""Enqueue speed of persistent (delivery_mode=2) and transient (delivery_mode=1) queues, and the
cost of a topic routing decision.

    python scripts/bench_routing.py            # 2,000 jobs per run, 3 runs, medians
    python scripts/bench_routing.py --n 5000 --runs 5

Each run sends ``n`` jobs one ``send_task`` call each (one commit each, as ``delay()`` does) into
a fresh SQLite file in a temporary directory: a persistent queue commits with the app's
``sqlite_synchronous`` (default "full": an fsync per commit), a transient one without waiting for
the disk. Nothing here is a test: no number fails anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from litequeue import LiteQueue, Queue  # noqa: E402

QUEUES = (
    Queue("celery", routing_key="task.#"),
    Queue("web_tasks", routing_key="web.#"),
    Queue("transient", routing_key="transient", delivery_mode=1),
)


def enqueue_rate(n: int, routing_key: str, synchronous: str) -> float:
    """Jobs per second sent with ``routing_key`` into a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        app = LiteQueue(os.path.join(tmp, "bench.sqlite"), task_queues=QUEUES, sqlite_synchronous=synchronous)
        app.send_task("warm.up", routing_key=routing_key)  # open the file and create the schema first
        start = time.perf_counter()
        for _ in range(n):
            app.send_task("bench.noop", routing_key=routing_key)
        elapsed = time.perf_counter() - start
        app.close()
    return n / elapsed


def routing_rate(n: int) -> float:
    """Routing decisions per second for a topic key against the queues above (no store)."""
    app = LiteQueue(task_queues=QUEUES)
    start = time.perf_counter()
    for i in range(n):
        app.routing.route("bench.noop", (), {}, {"routing_key": f"web.page.{i % 50}"})
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="jobs per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cases = [
        ("persistent queue, sqlite_synchronous=full (default)", "web.page", "full"),
        ("persistent queue, sqlite_synchronous=normal", "web.page", "normal"),
        ("transient queue (delivery_mode=1)", "transient", "full"),
    ]
    print(f"enqueue, one send_task per job, {args.n} jobs, median of {args.runs} runs")
    for label, key, sync in cases:
        rates = [enqueue_rate(args.n, key, sync) for _ in range(args.runs)]
        print(f"  {label:55} {statistics.median(rates):10,.0f} jobs/s")
    decisions = statistics.median(routing_rate(20_000) for _ in range(args.runs))
    print(f"  {'routing decision (topic key, 3 bindings), no store':55} {decisions:10,.0f} /s")


if __name__ == "__main__":
    main()
