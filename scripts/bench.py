"""litequeue's benchmark: the speed metrics of this build against raw SQLite (and, with
--compare, against Celery, RQ, Huey and Dramatiq), each the median of several runs.

    python scripts/bench.py                 # the default run: 10,000 jobs, 3 runs (a few minutes)
    python scripts/bench.py --quick         # a smoke check: small counts, 1 run (~20 s)
    python scripts/bench.py --runs 5 --json # machine-readable output
    python scripts/bench.py --compare       # also the peers, each in a virtualenv under the cache dir
    python scripts/bench.py --growth        # claim/drain with 1,000,000 jobs queued or scheduled ahead
    python scripts/bench.py --long          # worker memory over a 100,000-job drain
    python scripts/bench.py --dashboard     # dashboard response times and drain while polled, 1,000,000 jobs
    python scripts/bench.py --flow --baseline /work/main   # flow control (scripts/bench_flow.py)
    python scripts/bench.py --workflows --only-extra [--compare]  # group, chord and chain figures
    python scripts/bench.py --mixed --only-extra [--compare]  # 95 % short, 5 % long jobs (issue 18)
    python scripts/bench.py --revoke --only-extra  # revoke(terminate=True) of a running job, p50/p95
    python scripts/bench.py --pool --baseline /work/main  # drain, latency, first job after idle against
                                                          # Huey on Redis and a baseline, interleaved

Every measurement runs in a fresh interpreter (scripts/bench_runner.py) against a fresh SQLite
file in a temporary directory; workers are real ``litequeue worker ... -c 2`` subprocesses. The raw
SQLite baselines are measured in each run beside litequeue, and ratios are taken run by run, so
a busy machine moves both sides together. Nothing here is a test: no number fails anything.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)

import bench_raw  # noqa: E402
import bench_report  # noqa: E402

REVOKE_SAMPLES = 20  # revoked jobs per --revoke run


class BenchError(Exception):
    """A benchmark part failed; the message says which and shows its output."""


RATIOS = [  # (ratio, litequeue metric, raw baseline)
    ("ratio_enqueue_full", "enqueue_full", "raw_commit_full"),
    ("ratio_enqueue_normal", "enqueue_normal", "raw_commit_normal"),
    ("ratio_enqueue_transient", "enqueue_transient", "raw_commit_normal"),
    ("ratio_bulk", "bulk", "raw_bulk_full"),
    ("ratio_claim_ack_1", "claim_ack_1", "raw_claim_ack_1"),
    ("ratio_claim_ack_32", "claim_ack_32", "raw_claim_ack_32"),
]


@dataclass(frozen=True)
class Config:
    """How big and how many."""

    runs: int = 3
    n: int = 10_000
    idle_wait: float = 10.0
    samples: int = 200
    growth_backlog: int = 1_000_000
    long_jobs: int = 100_000

    @classmethod
    def quick(cls) -> Config:
        return cls(runs=1, n=1_000, idle_wait=2.0, samples=20, growth_backlog=50_000, long_jobs=10_000)


def run_part(system: str, part: str, workdir: str, config: Config, python: str = sys.executable,
             options: dict | None = None, n: int | None = None, raw: str | None = None) -> dict:
    """Run one part in a fresh interpreter and return its JSON result."""
    cmd = [python, os.path.join(SCRIPTS, "bench_runner.py"), system, part, "--workdir", workdir,
           "--n", str(n or config.n), "--idle-wait", str(config.idle_wait), "--samples", str(config.samples)]
    cmd += ["--raw-baseline", raw] if raw else []
    for key, value in (options or {}).items():
        cmd += ["--option", f"{key}={value}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{system} {part}: no result within {exc.timeout:.0f} s") from None
    if proc.returncode != 0:
        raise BenchError(f"{system} {part} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def litequeue_run(config: Config, workdir: str) -> dict:
    """One run of every default metric with the raw baselines of this run and their ratios.
    Enqueue baselines are interleaved with litequeue's enqueues, 1,000 at a time, in one process."""
    out: dict = {}
    for key, options, raw in (("enqueue_full", {}, "full"), ("enqueue_normal", {"sync": "normal"}, "normal"),
                              ("enqueue_transient", {"queue": "transient"}, "normal")):
        result = run_part("litequeue", "enqueue", workdir, config, options=options, raw=raw)
        out[key], out[f"raw_commit_{raw}"] = result["enqueue_rate"], result["raw_rate"]
    bulk = run_part("litequeue", "bulk", workdir, config, raw="full")
    out["bulk"], out["raw_bulk_full"], out["bulk_api"] = bulk["bulk_rate"], bulk["raw_rate"], bulk["bulk_api"]
    raw_path = os.path.join(workdir, "raw.sqlite")
    out["raw_claim_ack_1"] = bench_raw.claim_ack_rate(raw_path, "normal", config.n, 1)
    out["raw_claim_ack_32"] = bench_raw.claim_ack_rate(raw_path, "normal", config.n, 32)
    out.update(run_part("litequeue", "claim", workdir, config, options={"sync": "normal"}))
    out.update(run_part("litequeue", "drain", workdir, config))
    out["worker_command"] = out["worker_command"].replace(sys.executable, "python").replace(workdir, "$TMP")
    out.update(run_part("litequeue", "session", workdir, config))
    for key, lq, base in RATIOS:
        out[key] = out[lq] / out[base]
    return out


def long_run(config: Config, workdir: str) -> dict:
    return run_part("litequeue", "long", workdir, config, n=config.long_jobs)


def repeat(label: str, runs: int, fn, *args, quiet: bool = False) -> list[dict]:
    """``fn(*args)`` ``runs`` times; progress on stderr."""
    results = []
    for i in range(runs):
        t = time.monotonic()
        if not quiet:
            print(f"[bench] {label}: run {i + 1}/{runs} ...", file=sys.stderr, flush=True)
        results.append(fn(*args))
        if not quiet:
            print(f"[bench] {label}: run {i + 1}/{runs} took {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.py", description="Benchmark litequeue against raw SQLite and, with --compare, its peers.",
        epilog="Numbers are medians of --runs runs with min-max; ratios are litequeue / raw SQLite in the same run.")
    parser.add_argument("--runs", type=int, help="runs per metric (default 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="small counts and one run: a smoke check")
    parser.add_argument("--json", action="store_true", help="print JSON (every run, and summaries) instead of tables")
    parser.add_argument("--n", type=int, help="jobs per enqueue/drain measurement (default 10,000)")
    parser.add_argument("--idle-wait", type=float, help="seconds of idle before the first latency job (default 10)")
    parser.add_argument("--samples", type=int, help="latency jobs, one every 50 ms (default 200)")
    parser.add_argument("--compare", action="store_true", help="also run Celery, RQ, Huey and Dramatiq")
    parser.add_argument("--peers", help="comma-separated subset of peers for --compare")
    parser.add_argument("--growth", action="store_true", help="claim/drain with a 1,000,000-job backlog")
    parser.add_argument("--backlog", type=int, help="backlog size for --growth (default 1,000,000)")
    parser.add_argument("--long", action="store_true", help="worker memory over a 100,000-job drain")
    parser.add_argument("--dashboard", action="store_true",
                        help="dashboard p50/p95 response times on 1,000,000 jobs, and drain while it is polled")
    parser.add_argument("--flow", action="store_true",
                        help="flow control's figures instead (scripts/bench_flow.py): drain without limits, "
                             "1 per key over 100 keys, achieved rate under rate_limit 1000/s")
    parser.add_argument("--baseline",
                        help="with --flow or --pool: a litequeue tree (e.g. main's) measured beside this one")
    parser.add_argument("--workflows", action="store_true",
                        help="group / chord / chain figures (with --compare: Celery's chain beside them)")
    parser.add_argument("--mixed", action="store_true",
                        help="95 %% 1 ms / 5 %% 200 ms jobs: makespan, short jobs' wait (--compare: Celery, Huey)")
    parser.add_argument("--revoke", action="store_true",
                        help="revoke(terminate=True) of a running job: until its process stopped and REVOKED stored")
    parser.add_argument("--pool", action="store_true",
                        help="the pool's figures instead (scripts/bench_pool.py): drain, latency, first job after idle "
                             "from a fresh producer and revoke, beside Huey on Redis (and --baseline), interleaved")
    parser.add_argument("--only-extra", action="store_true",
                        help="skip the default metrics (with --compare, --growth, --long, --dashboard, --mixed)")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    parser.add_argument("--cache-dir", default=os.path.join(cache, "litequeue-bench"),
                        help="where the peers' virtualenvs live")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, worker logs)")
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    config = Config.quick() if args.quick else Config()
    changes = {k: v for k, v in (("runs", args.runs), ("n", args.n), ("idle_wait", args.idle_wait),
                                  ("samples", args.samples), ("growth_backlog", args.backlog)) if v is not None}
    config = replace(config, **changes)
    if config.runs < 1 or config.n < 10 or config.samples < 2 or config.idle_wait < 0:
        raise SystemExit("bench.py: --runs must be >= 1, --n >= 10, --samples >= 2 and --idle-wait >= 0.")
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = make_config(args)
    if args.flow:
        import bench_flow

        return bench_flow.main([f"--n={config.n}", f"--runs={config.runs}",
                                *([f"--baseline={args.baseline}"] if args.baseline else [])])
    workdir = tempfile.mkdtemp(prefix="litequeue-bench-")
    report: dict = {"config": config.__dict__, "machine": bench_report.machine(), "started": time.time()}
    if args.pool:
        return pool_main(args, config, workdir, report)
    try:
        if not args.only_extra:
            report["litequeue"] = repeat("litequeue", config.runs, litequeue_run, config, workdir, quiet=args.json)
        if args.long:
            report["long"] = repeat("long drain", 1, long_run, config, workdir, quiet=args.json)
        if args.growth:
            import bench_growth

            report["growth"] = bench_growth.run(config, workdir, run_part, repeat, quiet=args.json)
        if args.dashboard:
            import bench_dashboard

            backlog = config.growth_backlog  # 1,000,000 (--quick: 50,000; --backlog N)
            report["dashboard"] = bench_dashboard.run(workdir, jobs=backlog, requests=20 if args.quick else 100,
                                                      drain_jobs=max(config.n, 2_000) * 2, rounds=config.runs,
                                                      quiet=args.json)
        if args.revoke:
            revoke = functools.partial(run_part, n=REVOKE_SAMPLES)
            report["revoke"] = repeat("revoke", config.runs, revoke, "litequeue", "revoke",
                                      os.path.join(workdir, "revoke"), config, quiet=args.json)
        if args.mixed:
            import bench_mixed

            report["mixed"] = bench_mixed.run(config, workdir, args.cache_dir, run_part, repeat, args.compare,
                                              quiet=args.json)
        if args.workflows:
            import bench_workflows

            report["workflows"] = bench_workflows.run(config, workdir, args.cache_dir, args.compare, repeat,
                                                      quiet=args.json)
        if args.compare and not (args.workflows and args.only_extra):  # else: Celery's chain only
            import bench_peers

            report["peers"] = bench_peers.run(config, workdir, args.cache_dir, run_part, repeat,
                                              args.peers, quiet=args.json)
    except BenchError as exc:
        print(f"bench.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"[bench] kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report["seconds"] = time.time() - report["started"]
    if args.json:
        print(json.dumps(bench_report.with_summaries(report), indent=2, default=str))
    else:
        print(bench_report.render({k: v for k, v in report.items() if k != "dashboard"}))
        if "dashboard" in report:
            import bench_dashboard

            print("\n" + bench_dashboard.render(report["dashboard"]))
    return 0


def pool_main(args: argparse.Namespace, config: Config, workdir: str, report: dict) -> int:
    import bench_pool

    try:
        report["pool"] = bench_pool.run(config, workdir, args.cache_dir, args.baseline, quiet=args.json)
    except RuntimeError as exc:
        print(f"bench.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    report["seconds"] = time.time() - report["started"]
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        m = report["machine"]
        print(f"litequeue benchmark, --pool: Python {m['python']}, {m['cpus']} CPUs, load average "
              f"{m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end; "
              f"{report['seconds']:.0f} s in all.")
        print(bench_pool.render(report["pool"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
