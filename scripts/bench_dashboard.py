"""``bench.py --dashboard``: the dashboard on a store of 1,000,000 jobs.

1. Response times (p50 / p95 over many requests) of filtered job pages, a deep page, a search, the
   overview the page refreshes live, and ``/metrics`` -- targets: p95 <= 100 ms for a filtered page,
   <= 200 ms for /metrics -- and what ``litequeue status`` reads (its queue table counts every
   state per queue from partial indexes; the million jobs all finished within the hour, the worst
   case for its "done in the last hour" column).
2. A worker's drain rate while the dashboard is polled every second (the live page plus a
   Prometheus scrape), against the rate without the dashboard polled, alternating in the same run
   -- target: >= 95 %.

The million finished jobs are written straight into the store's table with one INSERT ... SELECT
(a benchmark fixture: 94 % succeeded, 3 % failed, 1 % revoked, 2 % still queued on a queue no
worker reads), then the dashboard and workers are the real ``litequeue`` commands.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

TASKS = ["bench.resize", "bench.email", "bench.report", "bench.sync", "bench.cleanup"]
TASK_MODULE = '''
from litequeue import LiteQueue
app = LiteQueue({db!r})

@app.task(name="bench.noop")
def noop(i):
    return i
'''


def build_store(db: str, jobs: int) -> None:
    """The schema through litequeue, then ``jobs`` rows in one statement."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from litequeue import LiteQueue

    app = LiteQueue(db)
    app.store.queue_depths()  # creates the schema
    app.close()
    now = time.time()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    tasks = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TASKS))
    conn.execute(f"""
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
        INSERT INTO lq_jobs (task_id, task, queue, routing_key, priority, state, body, content_type, eta,
            wait_until, due_at, expires, created_at, started_at, done_at, attempts, max_retries, acks_late,
            ignore_result, durable, result, result_type, exc_type, exc_message, traceback)
        SELECT printf('bench-%08d', x), CASE x % 5 {tasks} END,
            CASE WHEN x % 50 = 7 THEN 'parked' ELSE 'q' || (x % 3) END, 'rk', 0,
            CASE WHEN x % 50 = 7 THEN 'QUEUED' WHEN x % 100 IN (3, 13, 23) THEN 'FAILURE'
                 WHEN x % 100 = 41 THEN 'REVOKED' ELSE 'SUCCESS' END,
            CAST(printf('[[%d,"user-%d@example.com"],{{}}]', x, x) AS BLOB), 'application/json', NULL, NULL,
            ?1 - 3600 + x * 0.003, NULL, ?1 - 3600 + x * 0.003,
            CASE WHEN x % 50 = 7 THEN NULL ELSE ?1 - 3600 + x * 0.003 + 0.001 END,
            CASE WHEN x % 50 = 7 THEN NULL ELSE ?1 - 3600 + x * 0.003 + 0.002 END,
            CASE WHEN x % 50 = 7 THEN 0 ELSE 1 END, 3, 1, 0, 1,
            CASE WHEN x % 100 IN (3, 13, 23, 41) OR x % 50 = 7 THEN NULL ELSE CAST('1' AS BLOB) END,
            'application/json',
            CASE WHEN x % 100 IN (3, 13, 23) THEN 'ValueError' END,
            CASE WHEN x % 100 IN (3, 13, 23) THEN 'bad input ' || x END,
            CASE WHEN x % 100 IN (3, 13, 23) THEN 'Traceback (most recent call last):' || char(10) ||
                 'ValueError: bad input' END
        FROM c""".replace("?1", str(now)).replace("?", str(jobs), 1))
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


class Process:
    def __init__(self, cmd: list[str], cwd: str, log: str) -> None:
        self.log = open(log, "wb")
        env = {**os.environ, "PYTHONPATH": cwd + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> float:
    """Seconds to fetch ``url`` completely."""
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
    return time.perf_counter() - t


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[max(int(len(ordered) * 0.95) - 1, 0)], 1), "n": len(ordered)}


def latencies(base: str, requests: int) -> dict:
    deep = 1000  # a cursor near the oldest job: page 20,000 of 50
    urls = {
        "jobs state=FAILURE": "/api/jobs?state=FAILURE",
        "jobs state=FAILURE, page 2+": None,  # filled below from the cursor
        "jobs task=bench.email": "/api/jobs?task=bench.email",
        "jobs queue=q1&state=SUCCESS": "/api/jobs?queue=q1&state=SUCCESS",
        "jobs sent_after (last 10 min)": "/api/jobs?sent_after=" + time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 600)),
        "jobs, deep page (before=1000)": f"/api/jobs?before={deep}",
        "search by argument text": "/api/jobs?search=user-999990@",
        "search by id": "/api/jobs?search=bench-00500000",
        "overview (live refresh)": "/api/overview",
        "/metrics": "/metrics",
    }
    first = json.loads(urllib.request.urlopen(base + "/api/jobs?state=FAILURE", timeout=60).read())
    urls["jobs state=FAILURE, page 2+"] = f"/api/jobs?state=FAILURE&before={first['next']}"
    out = {}
    for label, path in urls.items():
        fetch(base + path)  # warm
        out[label] = percentiles([fetch(base + path) for _ in range(requests)])
    return out


def status_latency(db: str, requests: int) -> dict:
    """p50 / p95 of what ``litequeue status`` reads (``monitoring.status``: the queue table, workers,
    running jobs, held-back jobs), in this process, on the same store."""
    from litequeue import LiteQueue, monitoring

    app = LiteQueue(db)
    try:
        monitoring.status(app)  # warm
        samples = []
        for _ in range(requests):
            t = time.perf_counter()
            monitoring.status(app)
            samples.append(time.perf_counter() - t)
    finally:
        app.close()
    return percentiles(samples)


def drain_rate(root: str, db: str, jobs: int, tag: str) -> float:
    """Jobs per second of one ``--burst`` worker draining ``jobs`` fresh jobs: from the first
    job's start to the last one's end, as the store recorded them (the worker's start-up is not
    counted)."""
    sys.path.insert(0, root)
    import bench_dash_tasks as module

    queue = f"drain-{tag}"
    module.app.enqueue_many([(module.noop, (i,)) for i in range(jobs)], queue=queue)
    module.app.close()
    cmd = [sys.executable, "-m", "litequeue", "worker", db, "-A", "bench_dash_tasks", "-c", "2", "-Q", queue,
           "--burst", "-l", "error"]
    proc = Process(cmd, root, os.path.join(root, f"{queue}.log"))
    if proc.proc.wait(1800) != 0:
        raise RuntimeError(open(os.path.join(root, f"{queue}.log")).read()[-2000:])
    proc.stop()
    conn = sqlite3.connect(db)
    first, last, done = conn.execute("SELECT MIN(started_at), MAX(done_at), COUNT(*) FROM lq_jobs "
                                     "WHERE queue = ? AND state = 'SUCCESS'", (queue,)).fetchone()
    conn.close()
    if done != jobs:
        raise RuntimeError(f"{queue}: {done} of {jobs} jobs succeeded")
    return jobs / (last - first)


def poll_every_second(base: str, stop: threading.Event, done: list[int]) -> None:
    """What a browser with the live page open and a Prometheus scraping do: the overview and
    the first page of failures every second, /metrics every second."""
    while not stop.is_set():
        t = time.monotonic()
        for path in ("/api/overview", "/api/jobs?state=FAILURE", "/metrics"):
            fetch(base + path)
            done[0] += 1
        stop.wait(max(1.0 - (time.monotonic() - t), 0.0))


def run(workdir: str, jobs: int = 1_000_000, requests: int = 100, drain_jobs: int = 20_000, rounds: int = 3,
        quiet: bool = False) -> dict:
    root = os.path.join(workdir, "dashboard")
    os.makedirs(root, exist_ok=True)
    db = os.path.join(root, "million.sqlite")
    say = (lambda *a: None) if quiet else (lambda *a: print("[bench] dashboard:", *a, file=sys.stderr, flush=True))
    t = time.monotonic()
    build_store(db, jobs)
    say(f"{jobs:,} jobs written in {time.monotonic() - t:.0f} s")
    with open(os.path.join(root, "bench_dash_tasks.py"), "w") as f:
        f.write(TASK_MODULE.format(db=db))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = Process([sys.executable, "-m", "litequeue", "dashboard", db, "--port", str(port)], root,
                        os.path.join(root, "dashboard.log"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(base + "/api/info")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        result: dict = {"jobs_in_store": jobs, "latency": latencies(base, requests)}
        result["latency"]["status (monitoring.status, in-process)"] = status_latency(db, requests)
        say("latencies measured")
        without, polled, polls = [], [], [0]
        for i in range(rounds):  # alternate, in ABBA order, so a busy moment or a warm cache favours neither
            for polled_now in ((False, True) if i % 2 == 0 else (True, False)):
                if not polled_now:
                    without.append(drain_rate(root, db, drain_jobs, f"plain{i}"))
                    continue
                stop = threading.Event()
                poller = threading.Thread(target=poll_every_second, args=(base, stop, polls), daemon=True)
                poller.start()
                try:
                    polled.append(drain_rate(root, db, drain_jobs, f"polled{i}"))
                finally:
                    stop.set()
                    poller.join(30)
            say(f"drain round {i + 1}/{rounds}: {without[-1]:.0f}/s alone, {polled[-1]:.0f}/s polled")
        result["drain"] = {"jobs": drain_jobs, "rounds": rounds, "alone_per_s": [round(r) for r in without],
                           "polled_per_s": [round(r) for r in polled], "requests_while_polled": polls[0],
                           "ratio": round(statistics.median(polled) / statistics.median(without), 3)}
    finally:
        dashboard.stop()
    return result


def render(result: dict) -> str:
    lines = [f"Dashboard on a store of {result['jobs_in_store']:,} jobs (p50 / p95 over "
             f"{next(iter(result['latency'].values()))['n']} requests each):", ""]
    width = max(len(k) for k in result["latency"])
    for label, r in result["latency"].items():
        lines.append(f"  {label:{width}}  {r['p50_ms']:7.1f} ms  {r['p95_ms']:7.1f} ms")
    d = result["drain"]
    lines += ["", f"Worker drain of {d['jobs']:,} jobs (-c 2), alone vs. with the dashboard polled every second "
              f"(overview, failures page, /metrics), alternating {d['rounds']} rounds:",
              f"  alone:  {d['alone_per_s']} jobs/s", f"  polled: {d['polled_per_s']} jobs/s",
              f"  ratio (medians): {d['ratio']:.1%}"]
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    out = run(tempfile.mkdtemp(prefix="litequeue-dash-"), jobs=int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print(render(out))
