"""Flow control's figures (issue 17), each the median of several runs:

- the drain rate of a store with no limits, with this tree's litequeue and with a baseline tree's
  (e.g. main's) in the same run, interleaved (the claim path without limits must not slow down);
- the drain rate of jobs with a concurrency limit of 1 per key over 100 keys, beside that;
- the achieved start rate under ``rate_limit="1000/s"``, and the most starts in any one-second
  window (the starts the store granted must never pass 1,000), on the granted starts and on the
  tasks' own clocks; and the load average, since the machine's load moves every figure.

    python scripts/bench_flow.py --baseline /work/main          # 10,000 jobs, 3 runs
    python scripts/bench_flow.py --n 2000 --runs 1              # a smoke check

Workers are real ``litequeue worker ... -c 2`` processes on a fresh SQLite file per run (the
rate part runs two of eight children each, $LQ_BENCH_RATE_CHILDREN to change). Nothing here is a
test: no number fails anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
RATE_CHILDREN = int(os.environ.get("LQ_BENCH_RATE_CHILDREN", "8"))  # per worker, two workers
sys.path.insert(0, SCRIPTS)
sys.path.insert(0, os.path.dirname(SCRIPTS))


def no_limit_drain(tree: str, n: int, workdir: str) -> float:
    """The default benchmark's drain (bench_runner.py litequeue drain) of the litequeue in
    ``tree``: with its own .venv if it has one, else this Python with the tree first on the path."""
    python = os.path.join(tree, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    scripts = os.path.join(tree, "scripts")
    cmd = [python, os.path.join(scripts, "bench_runner.py"), "litequeue", "drain", "--workdir", workdir,
           "--n", str(n), "--idle-wait", "1", "--samples", "1"]
    env = {**os.environ, "PYTHONPATH": tree + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL, cwd=scripts,
                          env=env)
    if proc.returncode != 0:
        raise SystemExit(f"drain with {python} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["drain_rate"]


def _app(db: str):
    os.environ["LQ_BENCH_DB"] = db
    import bench_flow_tasks

    bench_flow_tasks.app.close()
    bench_flow_tasks.app.url = db
    return bench_flow_tasks


def _workers(db: str, count: int, children: int = 2) -> float:
    """Run ``count`` burst workers of ``children`` children over ``db`` until they exit; seconds taken."""
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    argv = [litequeue, "worker", db, "-A", "bench_flow_tasks", "-c", str(children), "--burst", "-l", "warning"]
    start = time.perf_counter()
    procs = [subprocess.Popen(argv + ["-n", f"bench{i}"], cwd=SCRIPTS, env={**os.environ, "LQ_BENCH_DB": db})
             for i in range(count)]
    for proc in procs:
        if proc.wait(timeout=3600) != 0:
            raise SystemExit(f"a worker exited with {proc.returncode}")
    return time.perf_counter() - start


def keyed_drain(n: int, workdir: str) -> float:
    """Jobs per second through one worker when every job holds its key's only slot (100 keys)."""
    db = os.path.join(workdir, f"keyed-{time.time_ns()}.sqlite")
    tasks = _app(db)
    for start in range(0, n, 1000):
        tasks.keyed.map(range(start, min(start + 1000, n)))
    seconds = _workers(db, 1)
    tasks.app.close()
    return n / seconds


def rate_run(n: int, workdir: str) -> dict:
    """Two workers over ``n`` jobs of a rate_limit="1000/s" task: the achieved rate (first start to
    last start) and the most starts in any one-second window, of the starts the store granted
    (``granted_at``: what the limit guarantees) and on the tasks' own clocks (each run begins at
    or after its grant; one that begins late can fall into the next window)."""
    db = os.path.join(workdir, f"rated-{time.time_ns()}.sqlite")
    tasks = _app(db)
    for start in range(0, n, 1000):
        tasks.app.enqueue_many([(tasks.rated, ())] * min(1000, n - start))
    _workers(db, 2, RATE_CHILDREN)
    tasks.app.close()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT granted_at, result FROM lq_jobs WHERE state = 'SUCCESS'").fetchall()
    conn.close()
    if len(rows) != n or any(granted is None for granted, _ in rows):
        raise SystemExit(f"rate: {len(rows)} of {n} jobs done, each with its grant")
    granted = sorted(granted for granted, _ in rows)
    began = sorted(json.loads(result) for _, result in rows)
    return {"achieved": _achieved(granted), "most_in_1s": most_in_window(granted),
            "task_achieved": _achieved(began), "task_most_in_1s": most_in_window(began)}


def _achieved(starts: list[float]) -> float:
    return (len(starts) - 1) / (starts[-1] - starts[0])


def most_in_window(starts: list[float], period: float = 1.0) -> int:
    """The most of the sorted ``starts`` in any window of ``period`` seconds."""
    most, j = 0, 0
    for i, t in enumerate(starts):
        while starts[j] <= t - period:
            j += 1
        most = max(most, i - j + 1)
    return most


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a litequeue tree (with its .venv) to measure the no-limit drain of too")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rate-n", type=int, default=5_000, help="jobs of the rate part (default 5,000: 5 s)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list] = {"drain": [], "drain_baseline": [], "keyed": [], "rate": [], "most_in_1s": [],
                                "task_rate": [], "task_most_in_1s": [], "load": [os.getloadavg()[0]]}
    with tempfile.TemporaryDirectory() as workdir:
        for run in range(args.runs):
            print(f"[bench_flow] run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            trees = [("drain", os.path.dirname(SCRIPTS))]
            trees += [("drain_baseline", args.baseline)] if args.baseline else []
            for key, tree in trees[::-1] if run % 2 else trees:  # each goes first every other run
                results[key].append(no_limit_drain(tree, args.n, workdir))
            results["keyed"].append(keyed_drain(args.n, workdir))
            rate = rate_run(args.rate_n, workdir)
            results["rate"].append(rate["achieved"])
            results["most_in_1s"].append(rate["most_in_1s"])
            results["task_rate"].append(rate["task_achieved"])
            results["task_most_in_1s"].append(rate["task_most_in_1s"])
            results["load"].append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in results.items() if v}
    print(f"drain, no limits          {med['drain']:>9,.0f} jobs/s   runs: {_list(results['drain'])}")
    if "drain_baseline" in med:
        ratios = [a / b for a, b in zip(results["drain"], results["drain_baseline"], strict=True)]
        print(f"drain, no limits, baseline{med['drain_baseline']:>9,.0f} jobs/s   runs: "
              f"{_list(results['drain_baseline'])}   this/baseline per run: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"drain, 1 per key, 100 keys{med['keyed']:>9,.0f} jobs/s   runs: {_list(results['keyed'])}")
    print(f"rate_limit 1000/s achieved{med['rate']:>9,.0f} starts/s runs: {_list(results['rate'])}   "
          f"most starts in any 1 s: {max(results['most_in_1s'])}   (granted starts: the guarantee)")
    print(f"  on the tasks' own clocks{med['task_rate']:>9,.0f} starts/s runs: {_list(results['task_rate'])}   "
          f"most starts in any 1 s: {max(results['task_most_in_1s'])}")
    print(f"load average (1 min) at the start and after each run: {', '.join(f'{v:.1f}' for v in results['load'])}")
    return 0


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
