"""procrastinate doing the same drain as ``bench_postgres.py``, for ``--compare-procrastinate``.

procrastinate and psycopg 3 are pip-installed into their own virtualenv under the benchmark
cache (``~/.cache/litequeue-bench/venv-procrastinate``), never into litequeue's Python. Each
measurement gets its own scratch database: the jobs are deferred in bulk (``batch_defer``, by
bench_peer_procrastinate.py inside the virtualenv), then W ``procrastinate worker`` processes start
together and the jobs table is polled until every job has succeeded; the workers are then stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from bench_peers import Peer, ensure_venv

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "litequeue-bench")
PEER = Peer("procrastinate", "procrastinate", "procrastinate", ("procrastinate", "psycopg[binary]"),
            "procrastinate worker processes on the same PostgreSQL", redis=False)
DRAIN_TIMEOUT = 600.0


class Procrastinate:
    """The installed peer: its Python, its console script and how to run it on one database."""

    def __init__(self) -> None:
        self.python = ensure_venv(CACHE, PEER, quiet=False)
        self.command = os.path.join(os.path.dirname(self.python), "procrastinate")
        self.version = self._run(["version"], url="").strip()

    def worker_command(self, concurrency: int) -> list[str]:
        """The worker as a user would start it: the app by dotted path, one process per call."""
        return [self.command, "--app=bench_peer_procrastinate.app", "--log-level", "error", "worker",
                "-c", str(concurrency)]

    def env(self, url: str) -> dict:
        path = os.pathsep.join(p for p in (SCRIPTS, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path, "LQ_BENCH_PROCRASTINATE_URL": url}

    def _run(self, args: list[str], url: str) -> str:
        proc = subprocess.run([self.python, os.path.join(SCRIPTS, "bench_peer_procrastinate.py"), *args],
                              capture_output=True, text=True, timeout=300, env=self.env(url), cwd=SCRIPTS,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"bench_peer_procrastinate.py {' '.join(args)} failed:\n{proc.stderr[-1500:]}")
        return proc.stdout

    def measure(self, url: str, n: int, workers: int, concurrency: int, logdir: str) -> dict:
        """Defer n no-op jobs into the empty database at url, then drain them with W workers."""
        import psycopg2

        self._run(["setup", str(n)], url)
        reader = psycopg2.connect(url)
        reader.autocommit = True
        try:
            cursor = reader.cursor()
            logs = [open(os.path.join(logdir, f"procrastinate-{workers}-{w}.log"), "w") for w in range(workers)]
            started = time.time()
            procs = [subprocess.Popen(self.worker_command(concurrency) + ["-n", f"bench{w}"], cwd=SCRIPTS,
                                      env=self.env(url), stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL) for w, log in enumerate(logs)]
            try:
                wait_all_succeeded(cursor, n, procs, logs)
                cursor.execute("SELECT count(*) FROM procrastinate_jobs GROUP BY worker_id ORDER BY 1 DESC")
                shares = [row[0] for row in cursor.fetchall()]
            finally:
                stop(procs)
                for log in logs:
                    log.close()
            cursor.execute("SELECT min(at) FILTER (WHERE type = 'started'), max(at) FILTER (WHERE type = 'succeeded')"
                           " FROM procrastinate_events")
            first, last = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started'"
                           " GROUP BY job_id HAVING count(*) > 1) AS again")
            twice = cursor.fetchone()[0]
        finally:
            reader.close()
        return {"rate": n / (last - first).total_seconds(), "wall_rate": n / (last.timestamp() - started),
                "twice": twice, "shares": shares}


def wait_all_succeeded(cursor, n: int, procs: list[subprocess.Popen], logs: list) -> None:
    """Poll the jobs table until n jobs have succeeded; fail if a worker dies or time runs out."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        cursor.execute("SELECT count(*) FILTER (WHERE status = 'succeeded'),"
                       " count(*) FILTER (WHERE status NOT IN ('todo', 'doing', 'succeeded')) FROM procrastinate_jobs")
        succeeded, other = cursor.fetchone()
        if succeeded == n:
            return
        if other:
            raise RuntimeError(f"{other} procrastinate jobs ended in a state other than succeeded")
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            logs[procs.index(dead[0])].flush()
            with open(logs[procs.index(dead[0])].name) as f:
                tail = f.read()[-1500:]
            raise RuntimeError(f"a procrastinate worker exited with {dead[0].returncode}:\n{tail}")
        time.sleep(0.05)
    raise RuntimeError(f"procrastinate did not finish {n} jobs within {DRAIN_TIMEOUT:.0f} s")


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every worker (procrastinate's graceful stop), then SIGKILL any that lingers."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

