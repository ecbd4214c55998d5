"""Chaos for trust (issue 21): the scenarios that found its defects, each ending with checks.

    python scripts/chaos_trust.py postgres-crash     # PostgreSQL crash-restarts under load
    python scripts/chaos_trust.py poison             # poison messages among innocent jobs
    python scripts/chaos_trust.py clock-skew         # a worker whose clock runs 30 s ahead

``postgres-crash`` starts a private PostgreSQL cluster (``initdb`` on a spare port of 127.0.0.1,
run as a throw-away local user when started as root; never the shared server), runs 2 workers
while jobs flow, and crash-restarts the server (``pg_ctl restart -m immediate``) every few
seconds: workers commit outcomes with ``synchronous_commit=off``, so a crash undoes some. Checks:
every job ends SUCCESS, none is stuck in STARTED, every job ran at least once.

``poison`` sends jobs whose outcome no store can hold as sent (an error message with a lone
surrogate, an exception whose ``str()`` and ``repr()`` raise, a retry time past any column)
among innocent ones. Checks: no worker died, every innocent job ran exactly once, every poison job
ended FAILURE with its error kept.

``clock-skew`` runs a healthy worker and one whose clock is 30 s ahead (SQLite; and PostgreSQL
with ``--postgres``, on a private cluster). Checks: on SQLite the healthy worker warns about the
other's clock; on PostgreSQL no job runs twice (leases follow the server's clock).

Each prints a summary with the count of jobs stuck in STARTED; the exit code is 0 when every
check passed. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import ROOT, Worker, environment, ledger_counts, logs_mention, stop_every_worker  # noqa: E402

PG_USER = "lq-chaos-pg"

PRODUCER = textwrap.dedent("""
    import sys, time
    from litequeue.errors import DuplicateJob, StoreError
    from tests.support import tasks
    kind, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    start = time.monotonic()

    def send(task, key, *args, **options):
        while True:  # a server restarting: send again (a send that did commit is a DuplicateJob)
            try:
                return task.apply_async((key, *args), task_id=key, **options)
            except DuplicateJob:
                return None
            except StoreError:
                time.sleep(0.2)

    for i in range(n):
        if kind == "poison" and i % 10 == 0:
            poison = (tasks.raises_undecodable, tasks.raises_unprintable, tasks.retries_at_an_impossible_time)
            send(poison[(i // 10) % 3], f"poison{i}")
        else:
            send(tasks.attempt_record, f"job{i}", 0.01, max_retries=50)
        time.sleep(max(0.0, start + seconds * (i + 1) / n - time.monotonic()))
    print("produced", n, flush=True)
""")


class PrivateCluster:
    """A PostgreSQL cluster of this run's own, on 127.0.0.1 and a spare port."""

    def __init__(self) -> None:
        self.port = _spare_port()
        self.home = Path(tempfile.mkdtemp(prefix="lq-chaos-pg-"))
        self.data = self.home / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: a throw-away user runs it
            _ensure_user(PG_USER)
            shutil.chown(self.home, PG_USER)
            self.as_user = ["runuser", "-u", PG_USER, "--"]
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.home / "server.log"), "-w", "start")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def crash_restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-l", str(self.home / "server.log"), "-w",
                  "restart")

    def destroy(self) -> None:
        subprocess.run([*self.as_user, "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, *argv: str) -> None:
        # Output to a file, not a pipe: the server started by pg_ctl would hold a pipe open forever.
        with open(self.home / "pg_ctl.out", "ab") as out:
            subprocess.run([*self.as_user, *argv], check=True, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                           cwd=self.home)


def _spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)


def store_query(url: str, sql: str) -> list[tuple]:
    """Run ``sql`` on the store at ``url`` (a path or a PostgreSQL URL), retrying while it restarts."""
    for _ in range(100):
        try:
            if url.startswith("postgresql://"):
                import psycopg2

                conn = psycopg2.connect(url, connect_timeout=5)
                try:
                    with conn.cursor() as cursor:
                        cursor.execute(sql)
                        return cursor.fetchall()
                finally:
                    conn.close()
            import sqlite3

            with sqlite3.connect(url, timeout=60) as conn:
                return conn.execute(sql).fetchall()
        except Exception:  # noqa: BLE001 - a server restarting: ask again
            time.sleep(0.2)
    raise RuntimeError(f"cannot query {url}")


def states(url: str) -> Counter:
    return Counter(dict(store_query(url, "SELECT state, COUNT(*) FROM lq_jobs GROUP BY state")))


def run_flow(url: str, workdir: Path, kind: str, jobs: int, seconds: float, workers: int,
             during=lambda elapsed: None, extra_env: dict | None = None) -> tuple[Counter, Path, list[Worker]]:
    """Workers and a producer on ``url``; ``during(elapsed)`` is called while jobs flow."""
    ledger = workdir / "ledger"
    ledger.mkdir(exist_ok=True)
    env = {**environment(url, ledger), "LQ_LEASE": "10", "LQ_HEARTBEAT": "1"}
    subprocess.run([sys.executable, "-c", "from tests.support.tasks import app; app.store"], cwd=ROOT, env=env,
                   check=True)
    fleet = [Worker(url, {**env, **extra_env} if i == 1 and extra_env else env, workdir / f"worker{i}.log",
                    f"trust{i}", 2) for i in range(workers)]
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, kind, str(jobs), str(seconds)], cwd=ROOT, env=env)
    started = time.monotonic()
    while producer.poll() is None:
        during(time.monotonic() - started)
        time.sleep(0.5)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = states(url)
        if done["SUCCESS"] + done["FAILURE"] >= jobs:
            break
        time.sleep(0.5)
    return states(url), ledger, fleet


def summary(name: str, counts: Counter, problems: list[str]) -> list[str]:
    print(f"{name}: states {dict(counts)}; stuck in STARTED after the run: {counts['STARTED']}")
    if counts["STARTED"]:
        problems.append(f"{counts['STARTED']} job(s) stuck in STARTED")
    return problems


def postgres_crash(args: argparse.Namespace, workdir: Path) -> list[str]:
    cluster = PrivateCluster()
    try:
        crashes = []

        def crash(elapsed: float) -> None:
            if elapsed >= (len(crashes) + 1) * args.crash_every:
                cluster.crash_restart()
                crashes.append(elapsed)

        counts, ledger, fleet = run_flow(cluster.url, workdir, "jobs", args.jobs, args.duration, 2, crash)
        runs = ledger_counts(ledger)
        never = [i for i in range(args.jobs) if not runs.get(f"job{i}")]
        print(f"postgres-crash: {len(crashes)} crash-restarts; jobs that never ran: {len(never)}")
        problems = []
        if counts["SUCCESS"] != args.jobs:
            problems.append(f"{args.jobs - counts['SUCCESS']} job(s) did not succeed")
        if never:
            problems.append(f"SUCCESS or waiting without a run: {never[:5]}")
        return summary("postgres-crash", counts, problems)
    finally:
        stop_every_worker()
        cluster.destroy()


def poison(args: argparse.Namespace, workdir: Path) -> list[str]:
    db = str(workdir / "poison.sqlite")
    counts, ledger, fleet = run_flow(db, workdir, "poison", args.jobs, args.duration, 2)
    died = [w.name for w in fleet if not w.running()]
    stop_every_worker()
    runs = ledger_counts(ledger)
    innocent = Counter(runs.get(f"job{i}", 0) for i in range(args.jobs) if i % 10)
    poisoned = store_query(db, "SELECT task_id, state, exc_message FROM lq_jobs WHERE task_id LIKE 'poison%'")
    print(f"poison: workers that died: {died}; innocent executions per job: {dict(innocent)}; "
          f"poison jobs: {Counter(state for _, state, _ in poisoned)}")
    problems = []
    if died or logs_mention(workdir, "traceback (most recent call last)") > len(poisoned) * 3:
        problems.append("a worker died")
    if set(innocent) != {1}:
        problems.append("an innocent job ran other than exactly once")
    if any(state != "FAILURE" or not message for _, state, message in poisoned):
        problems.append("a poison job did not end FAILURE with its error kept")
    return summary("poison", counts, problems)


def clock_skew(args: argparse.Namespace, workdir: Path) -> list[str]:
    problems: list[str] = []
    db = str(workdir / "skew.sqlite")
    counts, ledger, fleet = run_flow(db, workdir, "jobs", args.jobs, args.duration, 2,
                                     extra_env={"LQ_CLOCK_AHEAD": "30"})
    stop_every_worker()
    twice = sum(1 for key, n in ledger_counts(ledger).items() if key.startswith("job") and n > 1)
    warned = logs_mention(workdir, "s ahead of this machine's")
    print(f"clock-skew on SQLite: jobs run more than once: {twice} (leases follow each process's clock); "
          f"clock warnings: {warned}")
    if not warned:
        problems.append("no worker warned about the clock running ahead")
    summary("clock-skew (SQLite)", counts, problems)
    if args.postgres:
        cluster = PrivateCluster()
        pg_dir = workdir / "pg"
        pg_dir.mkdir()
        try:
            counts, ledger, fleet = run_flow(cluster.url, pg_dir, "jobs", args.jobs, args.duration, 2,
                                             extra_env={"LQ_CLOCK_AHEAD": "30"})
        finally:
            stop_every_worker()
            cluster.destroy()
        twice = sum(1 for key, n in ledger_counts(ledger).items() if key.startswith("job") and n > 1)
        print(f"clock-skew on PostgreSQL: jobs run more than once: {twice}")
        if twice:
            problems.append("on PostgreSQL a job ran twice: leases did not follow the server's clock")
        summary("clock-skew (PostgreSQL)", counts, problems)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["postgres-crash", "poison", "clock-skew"])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds over which jobs are sent")
    parser.add_argument("--crash-every", type=float, default=3.0, help="seconds between crash-restarts")
    parser.add_argument("--postgres", action="store_true", help="clock-skew: also on a private PostgreSQL cluster")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix=f"litequeue-{args.scenario}-"))
    scenario = {"postgres-crash": postgres_crash, "poison": poison, "clock-skew": clock_skew}[args.scenario]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups below
    try:
        problems = scenario(args, workdir)
    finally:
        stop_every_worker()
    for problem in problems:
        print("FAILED:", problem)
    print("OK: every check passed" if not problems else f"{len(problems)} check(s) failed; files in {workdir}")
    if not problems:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
