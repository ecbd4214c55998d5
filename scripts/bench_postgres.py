"""Drain speed and claim contention of litequeue on PostgreSQL, with 1, 2 and 4 worker processes.

    python scripts/bench_postgres.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--jobs 5000] [--workers 1,2,4] [-c 1] [--sqlite]

Each run gets a scratch database (``lq_bench_<random>``, dropped at the end) and a fresh schema per
measurement. N no-op jobs are enqueued, then W ``litequeue worker --burst -c C`` processes start
together and drain them. The drain rate is N over the time from the first job started to the last
one finished, as stored in the jobs' rows (worker start-up is not counted). Contention shows as
jobs claimed twice (must be 0) and how evenly the workers shared the jobs. ``--sqlite`` runs the
same on an SQLite file for reference.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from litequeue import LiteQueue  # noqa: E402
from litequeue.store import NewJob  # noqa: E402

app = LiteQueue(os.environ.get("LQ_BENCH_URL"))


@app.task(name="bench_postgres.noop")
def noop(i):
    return i


def enqueue(url: str, n: int) -> None:
    producer = LiteQueue(url)
    body = b"[[0],{}]"
    jobs = [NewJob(task_id=f"bench-{i}", task="bench_postgres.noop", queue="default", routing_key="default",
                   body=body, content_type="application/json") for i in range(n)]
    for start in range(0, n, 1000):
        producer.store.enqueue(jobs[start:start + 1000])
    producer.close()


def drain(url: str, workers: int, concurrency: int) -> None:
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    command = [litequeue if os.path.exists(litequeue) else "litequeue", "worker", url, "-A", "bench_postgres",
               "-c", str(concurrency), "--burst", "-l", "error"]
    env = {**os.environ, "LQ_BENCH_URL": url}
    procs = [subprocess.Popen(command + ["-n", f"bench{w}"], cwd=HERE, env=env) for w in range(workers)]
    for p in procs:
        if p.wait(600) != 0:
            raise SystemExit(f"a worker exited with {p.returncode}")


def measure(url: str, n: int, workers: int, concurrency: int) -> dict:
    enqueue(url, n)
    drain(url, workers, concurrency)
    reader = LiteQueue(url)
    done = reader.store.list_jobs(limit=n + 1)
    reader.close()
    assert len(done) == n and all(j.state == "SUCCESS" for j in done), "not every job succeeded"
    start = min(j.started_at for j in done)
    end = max(j.done_at for j in done)
    shares: dict[str, int] = {}
    for j in done:
        shares[j.worker.split("/")[0]] = shares.get(j.worker.split("/")[0], 0) + 1
    return {"rate": n / (end - start), "twice": sum(1 for j in done if j.attempts > 1),
            "shares": sorted(shares.values(), reverse=True)}


def scratch_database(url: str) -> tuple[str, callable]:
    import psycopg2

    name = f"lq_bench_{secrets.token_hex(4)}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a database the scratch database can be created from")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--sqlite", action="store_true", help="also measure an SQLite file for reference")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    base, drop = scratch_database(args.url)
    print(f"{args.jobs} no-op jobs; each worker: -c {args.concurrency}; {os.cpu_count()} CPUs")
    print(f"{'store':<11} {'workers':>7} {'jobs/s':>9} {'claimed twice':>14}  jobs per worker")
    try:
        for w in counts:
            result = measure(f"{base}?schema=bench_{w}_{int(time.time())}", args.jobs, w, args.concurrency)
            print(f"{'postgresql':<11} {w:>7} {result['rate']:>9.0f} {result['twice']:>14}  {result['shares']}")
        if args.sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                for w in counts:
                    result = measure(os.path.join(tmp, f"bench{w}.sqlite"), args.jobs, w, args.concurrency)
                    print(f"{'sqlite':<11} {w:>7} {result['rate']:>9.0f} {result['twice']:>14}  {result['shares']}")
    finally:
        drop()


if __name__ == "__main__":
    main()
