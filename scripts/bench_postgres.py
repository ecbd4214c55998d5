"""Drain speed and claim contention of litequeue on PostgreSQL, with 1, 2 and 4 worker processes.

    python scripts/bench_postgres.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--jobs 5000] [--workers 1,2,4] [-c 1] [--sqlite]
                                     [--compare-procrastinate]

Each run gets a scratch database (``lq_bench_<random>``, dropped at the end) and a fresh schema per
measurement. N no-op jobs are enqueued, then W ``litequeue worker --burst -c C`` processes start
together and drain them. The drain rate is N over the time from the first job started to the last
one finished, as stored in the jobs' rows (worker start-up is not counted). Contention shows as
jobs claimed twice (must be 0) and how evenly the workers shared the jobs. ``--sqlite`` runs the
same on an SQLite file for reference.

``--compare-procrastinate`` drains the same N jobs with procrastinate (installed by pip into its own
virtualenv under ~/.cache/litequeue-bench, see bench_postgres_procrastinate.py), W
``procrastinate worker`` processes each in its own scratch database, and prints both side by side.
Besides the rate above, both get a second one: N over the time from the workers' start to the
last job finished (start-up counted).
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
    started = time.time()
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
    return {"rate": n / (end - start), "wall_rate": n / (end - started),
            "twice": sum(1 for j in done if j.attempts > 1), "shares": sorted(shares.values(), reverse=True)}


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


def compare_procrastinate(url: str, n: int, counts: list[int], concurrency: int, ours: dict[int, dict]) -> None:
    """Drain the same n jobs with procrastinate and print its rates beside litequeue's."""
    from bench_postgres_procrastinate import Procrastinate

    theirs: dict[int, dict] = {}
    try:
        peer = Procrastinate()
        with tempfile.TemporaryDirectory() as logdir:
            for w in counts:
                scratch, drop = scratch_database(url)
                try:
                    theirs[w] = result = peer.measure(scratch, n, w, concurrency, logdir)
                finally:
                    drop()
                print(f"{'procrastin.':<11} {w:>7} {result['rate']:>9.0f} {result['twice']:>14}  {result['shares']}")
    except Exception as exc:  # the comparison is optional: say why it is missing, keep litequeue's numbers
        detail = str(exc).strip() or repr(exc)
        print(f"\nprocrastinate: not measured: {detail}", flush=True)
        if not theirs:
            return
    print(f"\n{peer.version}; worker command: procrastinate {' '.join(peer.worker_command(concurrency)[1:])} -n benchW")
    print("run = first job started to last finished; wall = workers started to last finished (start-up counted)")
    print(f"{'workers':>7} | {'litequeue run':>13} {'wall':>6} | {'procrastinate run':>17} {'wall':>6} | "
          f"{'run ratio':>9}  (jobs/s)")
    for w in counts:
        lq, pq = ours[w], theirs.get(w)
        if pq is None:
            print(f"{w:>7} | {lq['rate']:>13.0f} {lq['wall_rate']:>6.0f} | {'not measured':>17} {'':>6} |")
            continue
        print(f"{w:>7} | {lq['rate']:>13.0f} {lq['wall_rate']:>6.0f} | {pq['rate']:>17.0f} {pq['wall_rate']:>6.0f} | "
              f"{lq['rate'] / pq['rate']:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a database the scratch database can be created from")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--sqlite", action="store_true", help="also measure an SQLite file for reference")
    parser.add_argument("--compare-procrastinate", action="store_true",
                        help="also drain the same jobs with procrastinate (pip-installed into its own virtualenv)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    base, drop = scratch_database(args.url)
    print(f"{args.jobs} no-op jobs; each worker: -c {args.concurrency}; {os.cpu_count()} CPUs")
    print(f"{'store':<11} {'workers':>7} {'jobs/s':>9} {'claimed twice':>14}  jobs per worker")
    ours: dict[int, dict] = {}
    try:
        for w in counts:
            result = measure(f"{base}?schema=bench_{w}_{int(time.time())}", args.jobs, w, args.concurrency)
            ours[w] = result
            print(f"{'postgresql':<11} {w:>7} {result['rate']:>9.0f} {result['twice']:>14}  {result['shares']}")
        if args.compare_procrastinate:
            compare_procrastinate(args.url, args.jobs, counts, args.concurrency, ours)
        if args.sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                for w in counts:
                    result = measure(os.path.join(tmp, f"bench{w}.sqlite"), args.jobs, w, args.concurrency)
                    print(f"{'sqlite':<11} {w:>7} {result['rate']:>9.0f} {result['twice']:>14}  {result['shares']}")
    finally:
        drop()


if __name__ == "__main__":
    main()
