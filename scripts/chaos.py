"""Chaos: kill worker processes at random while jobs flow, then check that nothing was lost.

    python scripts/chaos.py                          # 60 s of kills, 10,000 jobs, 3 workers
    python scripts/chaos.py --duration 20 --jobs 2000
    python scripts/chaos.py contention               # 8 producers x 5,000 delay() with 2 workers

``chaos`` (the default) starts 2-3 ``litequeue worker`` processes and a producer, then for
``--duration`` seconds sends one of SIGKILL to a worker's main process, SIGKILL to one of its
pool children, SIGTERM (warm shutdown) or SIGQUIT (cold shutdown), restarting whatever died. When
the kills stop it waits for every job to finish and checks: every job is stored once and none is
lost, none is left STARTED (or waiting), each stored result is the one from the attempt that owned
the job, the children of a SIGKILLed main process exited on their own, no "database is locked"
appeared, and ``PRAGMA integrity_check`` is ok.

``contention`` runs 8 producer processes x 5,000 ``delay()`` concurrently with 2 workers and checks
that every job ran exactly once (counted in an independent ledger) with no "database is locked".

Both run the test suite's app (tests/support/tasks.py) from the repository root; the exit code is
0 when every check passed. Not part of the quick test run. ``scripts/chaos_trust.py`` has the
scenarios of issue 21: PostgreSQL crash-restarts under load, poison messages, clock skew.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCER = textwrap.dedent("""
    import random, sys, time
    from tests.support.tasks import attempt_record, record
    kind, prefix, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    start = time.monotonic()
    for i in range(n):
        if kind == "chaos":
            key = f"{prefix}{i}"
            attempt_record.apply_async((key, random.uniform(0, 0.04)), task_id=key, max_retries=20)
            time.sleep(max(0.0, start + seconds * (i + 1) / n - time.monotonic()))  # spread over the run
        else:
            record.delay(f"{prefix}{i}")
    print("produced", n, flush=True)
""")


STARTED: list = []  # every worker this run started, so that any exit stops them all


def stop_every_worker() -> None:
    """Kill what is left of every worker started (their own sessions, so the whole group)."""
    for worker in STARTED:
        if worker.proc.poll() is None:
            try:
                os.killpg(worker.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.proc.wait(10)


class Worker:
    """One ``litequeue worker`` subprocess, its log appended to a file."""

    def __init__(self, db: str, env: dict, log: Path, name: str, concurrency: int) -> None:
        self.name = name
        self.log = open(log, "ab")
        cmd = [sys.executable, "-m", "litequeue", "worker", db, "-A", "tests.support.tasks", "-l", "info",
               "-c", str(concurrency), "-n", name]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        STARTED.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def children(self) -> list[int]:
        found: list[int] = []
        try:
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
        return found

    def running(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.running():
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def environment(db: str, ledger: Path) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), LQ_TEST_DB=db, LQ_LEDGER=str(ledger))
    return env


def query(db: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=60)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def states_of(db: str) -> Counter:
    try:
        return Counter(dict(query(db, "SELECT state, COUNT(*) FROM lq_jobs GROUP BY state")))
    except sqlite3.OperationalError:  # no table yet
        return Counter()


def ledger_counts(ledger: Path) -> Counter:
    return Counter(name.rsplit(".", 1)[0] for name in os.listdir(ledger))


def create_schema(db: str, env: dict) -> None:
    subprocess.run([sys.executable, "-c", "from tests.support.tasks import app; app.store"], cwd=ROOT, env=env,
                   check=True)


class Chaos:
    """The kill loop: one random blow at a time, and a restart for every worker that died."""

    def __init__(self, db: str, env: dict, workdir: Path, workers: int, concurrency: int, seed: int) -> None:
        self.db, self.env, self.workdir, self.concurrency = db, env, workdir, concurrency
        self.random = random.Random(seed)
        self.fleet = [self._start(i) for i in range(workers)]
        self.blows: Counter = Counter()
        self.orphan_checks: list[tuple[float, list[int]]] = []  # (deadline, children of a killed main)
        self.orphans: list[int] = []

    def _start(self, slot: int) -> Worker:
        return Worker(self.db, self.env, self.workdir / f"worker{slot}.log", f"chaos{slot}", self.concurrency)

    def blow(self) -> None:
        worker = self.random.choice([w for w in self.fleet if w.running()] or self.fleet)
        action = self.random.choices(["kill child", "kill main", "term", "quit"], weights=[45, 25, 20, 10])[0]
        children = worker.children()
        if action == "kill child" and children:
            os.kill(self.random.choice(children), signal.SIGKILL)
        elif action == "kill main":
            os.kill(worker.pid, signal.SIGKILL)
            self.orphan_checks.append((time.monotonic() + 5, children))
        elif action in ("term", "quit"):
            worker.proc.send_signal(signal.SIGTERM if action == "term" else signal.SIGQUIT)
        else:
            return
        self.blows[action] += 1

    def tend(self) -> None:
        """Restart dead workers; note children of a SIGKILLed main still alive after 5 s."""
        for i, worker in enumerate(self.fleet):
            if not worker.running():
                worker.close()
                self.fleet[i] = self._start(i)
                self.blows["restarts"] += 1
        self.check_orphans()

    def check_orphans(self) -> None:
        now = time.monotonic()
        for deadline, children in list(self.orphan_checks):
            if now >= deadline:
                self.orphans += [p for p in children if alive(p)]
                self.orphan_checks.remove((deadline, children))

    def stop(self) -> None:
        for worker in self.fleet:
            if worker.running():
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.fleet:
            try:
                worker.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
            worker.close()
        while self.orphan_checks:
            time.sleep(0.2)
            self.check_orphans()


def wait_for_jobs(db: str, total: int, timeout: float, tend=lambda: None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = states_of(db)
        if counts["SUCCESS"] + counts["FAILURE"] == total:
            return True
        tend()
        time.sleep(0.5)
    return False


def logs_mention(workdir: Path, text: str) -> int:
    return sum(p.read_text(errors="replace").lower().count(text) for p in workdir.glob("*.log"))


def check_chaos(db: str, ledger: Path, total: int, chaos: Chaos, workdir: Path, finished: bool) -> list[str]:
    """The failed checks (empty when all hold), printing a summary on the way."""
    rows = query(db, "SELECT task_id, state, attempts, result, exc_type FROM lq_jobs")
    counts = Counter(state for _, state, _, _, _ in rows)
    ids = Counter(task_id for task_id, *_ in rows)
    runs = ledger_counts(ledger)
    completions = Counter(runs.get(f"job{i}", 0) for i in range(total))
    starts = Counter(runs.get(f"job{i}-start", 0) for i in range(total))
    wrong_attempt = [t for t, s, a, r, _ in rows if s == "SUCCESS" and json.loads(r)["attempt"] != a]
    never_ran = [t for t, s, *_ in rows if s == "SUCCESS" and runs.get(t, 0) == 0]
    failures = Counter(exc for _, s, _, _, exc in rows if s == "FAILURE")
    integrity = query(db, "PRAGMA integrity_check")[0][0]
    locked = logs_mention(workdir, "database is locked")
    print(f"blows: {dict(chaos.blows)}")
    print(f"jobs stored: {len(rows)} of {total}; states: {dict(counts)}; failures: {dict(failures)}")
    print(f"stuck in STARTED after the run: {counts['STARTED']}")
    print(f"executions started per job: {dict(sorted(starts.items()))}")
    print(f"executions completed per job: {dict(sorted(completions.items()))} "
          "(more than 1: a worker died after its child finished, before the outcome was recorded)")
    print(f"orphaned children alive 5 s after their main process was killed: {chaos.orphans}")
    print(f"'database is locked' in logs: {locked}; integrity_check: {integrity}")
    problems = []
    if not finished:
        problems.append("jobs were still unfinished at the timeout")
    if len(rows) != total or any(n != 1 for n in ids.values()):
        problems.append("lost or duplicated job rows")
    if counts["STARTED"] or counts["QUEUED"] or counts["RETRY"]:
        problems.append("jobs left STARTED, QUEUED or RETRY")
    if counts["SUCCESS"] != total:
        problems.append(f"{total - counts['SUCCESS']} job(s) did not succeed")
    if wrong_attempt:
        problems.append(f"results from an attempt that did not own the job: {wrong_attempt[:5]}")
    if never_ran:
        problems.append(f"SUCCESS without an execution in the ledger: {never_ran[:5]}")
    if chaos.orphans:
        problems.append("children outlived their killed main process")
    if locked:
        problems.append("'database is locked' appeared")
    if integrity != "ok":
        problems.append("integrity_check failed")
    return problems


def run_chaos(args: argparse.Namespace, workdir: Path) -> list[str]:
    db, ledger = str(workdir / "chaos.sqlite"), workdir / "ledger"
    ledger.mkdir()
    env = environment(db, ledger)
    create_schema(db, env)
    chaos = Chaos(db, env, workdir, args.workers, args.concurrency, args.seed)
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, "chaos", "job", str(args.jobs),
                                 str(args.duration * 0.8)], cwd=ROOT, env=env)
    started = time.monotonic()
    print(f"chaos: {args.jobs} jobs, {args.workers} workers x {args.concurrency} children, "
          f"{args.duration:g} s of kills (seed {args.seed}); files in {workdir}", flush=True)
    while time.monotonic() - started < args.duration:
        time.sleep(chaos.random.uniform(0.3, 1.5))
        chaos.blow()
        time.sleep(0.2)
        chaos.tend()
        done = states_of(db)
        print(f"  {time.monotonic() - started:5.1f} s  {dict(chaos.blows)}  {dict(done)}", flush=True)
    producer.wait()
    print("kills stopped; waiting for the remaining jobs", flush=True)
    finished = wait_for_jobs(db, args.jobs, args.timeout, chaos.tend)
    chaos.stop()
    return check_chaos(db, ledger, args.jobs, chaos, workdir, finished)


def run_contention(args: argparse.Namespace, workdir: Path) -> list[str]:
    db, ledger = str(workdir / "contention.sqlite"), workdir / "ledger"
    ledger.mkdir()
    # Real-world leases: the test app's 3 s lease is shorter than a write can wait for the lock
    # while 8 producers commit with synchronous=FULL, and an expired lease means a second run.
    env = {**environment(db, ledger), "LQ_LEASE": "30", "LQ_HEARTBEAT": "1"}
    create_schema(db, env)
    total = args.producers * args.jobs_each
    workers = [Worker(db, env, workdir / f"worker{i}.log", f"w{i}", args.concurrency) for i in range(2)]
    started = time.monotonic()
    producers = [subprocess.Popen([sys.executable, "-c", PRODUCER, "contention", f"p{k}-", str(args.jobs_each), "0"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for k in range(args.producers)]
    outputs = [p.communicate()[0] for p in producers]
    enqueued = time.monotonic() - started
    finished = wait_for_jobs(db, total, args.timeout)
    ran = time.monotonic() - started
    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
        w.proc.wait(60)
        w.close()
    runs = ledger_counts(ledger)
    per_job = Counter(runs.get(f"p{k}-{i}", 0) for k in range(args.producers) for i in range(args.jobs_each))
    locked = logs_mention(workdir, "database is locked") + sum(o.lower().count("locked") for o in outputs)
    states = states_of(db)
    integrity = query(db, "PRAGMA integrity_check")[0][0]
    print(f"contention: {args.producers} producers x {args.jobs_each} delay() with 2 workers x {args.concurrency}")
    print(f"all enqueued after {enqueued:.1f} s ({total / enqueued:,.0f} jobs/s); all done after {ran:.1f} s")
    print(f"states: {dict(states)}; executions per job: {dict(per_job)}; producer exit codes: "
          f"{sorted({p.returncode for p in producers})}")
    print(f"'locked' in producer output or worker logs: {locked}; integrity_check: {integrity}")
    problems = []
    if not finished or states.get("SUCCESS") != total:
        problems.append("not every job succeeded")
    if set(per_job) != {1}:
        problems.append("a job ran other than exactly once")
    if any(p.returncode for p in producers):
        problems.append("a producer failed")
    if locked:
        problems.append("'locked' appeared")
    if integrity != "ok":
        problems.append("integrity_check failed")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=["chaos", "contention"], default="chaos")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of kills (chaos)")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the chaos run")
    parser.add_argument("--workers", type=int, default=3, help="workers in the chaos run")
    parser.add_argument("--concurrency", type=int, default=2, help="children per worker")
    parser.add_argument("--producers", type=int, default=8, help="producer processes (contention)")
    parser.add_argument("--jobs-each", type=int, default=5_000, help="delay() calls per producer (contention)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the jobs to finish")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed for the kills")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix=f"litequeue-{args.mode}-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below
    try:
        problems = (run_chaos if args.mode == "chaos" else run_contention)(args, workdir)
    finally:
        stop_every_worker()
    for problem in problems:
        print("FAILED:", problem)
    print("OK: every check passed" if not problems else f"{len(problems)} check(s) failed; files in {workdir}")
    if not problems and not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
