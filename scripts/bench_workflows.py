"""Workflow figures for ``bench.py --workflows``: a 10,000-member group (enqueue, drain), a
1,000-member chord (from the last member's end to the callback's start) and a 1,000-step chain
(steps per second), each beside a baseline measured in the same run: the same jobs sent with
``enqueue_many`` (the bulk fast path) for the group, and, where ``--compare`` has Celery's
virtualenv, the same chain on Celery+Redis.

    python scripts/bench_workflows.py litequeue --workdir DIR [--members 10000 --chord 1000 --chain 1000]
    <celery venv python> scripts/bench_workflows.py celery --workdir DIR [--chain 1000]

Each prints one JSON line. Workers: ``litequeue worker -c 2`` / ``celery worker --concurrency 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)

import bench_procs  # noqa: E402


def litequeue_part(args: argparse.Namespace) -> dict:
    db = os.path.join(args.workdir, f"workflows-{os.getpid()}.sqlite")
    os.environ["LQ_BENCH_DB"] = db
    import bench_tasks as bt

    from litequeue import chain, chord, group

    out: dict = {}
    app = bt.app
    t = time.perf_counter()
    bt.noop.starmap([()] * args.members)  # the baseline: the bulk fast path, one transaction
    out["bulk_enqueue_s"] = time.perf_counter() - t
    out["bulk_drain_s"] = _drain(db, args.workdir, lambda: app.store.count_jobs(["SUCCESS"]) >= args.members)
    app.control.purge()
    app.store.prune(time.time() + 1, ["SUCCESS"])
    t = time.perf_counter()
    g = group(bt.noop.s() for _ in range(args.members))()
    out["group_enqueue_s"] = time.perf_counter() - t
    out["group_drain_s"] = _drain(db, args.workdir, lambda: g.completed_count() >= args.members)
    worker = bench_procs.start(_worker(db), SCRIPTS, dict(os.environ), os.path.join(args.workdir, "wf-worker.log"))
    try:
        latencies = []
        for _ in range(args.chords):
            r = chord([bt.wf_member.s(i) for i in range(args.chord)], bt.wf_callback.s())()
            started, last_end, in_order = r.get(timeout=600)
            assert in_order, "chord results out of order"
            latencies.append((started - last_end) * 1000)
        out["chord_ms"] = latencies
        out["chord_p50_ms"] = bench_procs.percentile(latencies, 50)
        steps = chain(bt.wf_step.s(0), *[bt.wf_step.s() for _ in range(args.chain - 1)])
        t = time.perf_counter()
        r = steps()
        assert r.get(timeout=600) == args.chain
        out["chain_s"] = time.perf_counter() - t
        out["chain_steps_per_s"] = args.chain / out["chain_s"]
    finally:
        bench_procs.stop(worker)
    return out


def _worker(db: str) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "litequeue")
    return [script, "worker", db, "-A", "bench_tasks", "-c", "2", "-l", "warning"]


def _drain(db: str, workdir: str, done) -> float:
    t = time.perf_counter()
    worker = bench_procs.start(_worker(db), SCRIPTS, dict(os.environ), os.path.join(workdir, "wf-drain.log"))
    try:
        if not bench_procs.wait_until(done, 600, 0.02, worker):
            raise SystemExit(f"drain did not finish:\n{bench_procs.tail(os.path.join(workdir, 'wf-drain.log'))}")
        return time.perf_counter() - t
    finally:
        bench_procs.stop(worker)


def celery_part(args: argparse.Namespace) -> dict:
    import bench_ledger
    from bench_peer_common import flush_redis, venv_bin

    os.environ["BENCH_LEDGER"] = ledger_dir = os.path.join(args.workdir, "celery-ledger")
    ledger = bench_ledger.Ledger(ledger_dir)
    flush_redis()
    ledger.reset()
    from bench_peer_celery import chain_step
    from celery import chain

    argv = [venv_bin("celery"), "-A", "bench_peer_celery", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
    worker = bench_procs.start(argv, SCRIPTS, dict(os.environ), os.path.join(args.workdir, "celery-wf.log"))
    try:
        time.sleep(3)  # let the worker connect (its start is not part of the chain's time)
        steps = chain(chain_step.s(0, args.chain), *[chain_step.s(args.chain) for _ in range(args.chain - 1)])
        t = time.time()
        steps.apply_async()
        if not bench_procs.wait_until(lambda: "chain-end" in ledger.stamps(), 600, 0.005, worker):
            log = os.path.join(args.workdir, "celery-wf.log")
            raise SystemExit(f"celery chain did not finish:\n{bench_procs.tail(log)}")
        seconds = ledger.stamps()["chain-end"] - t
    finally:
        bench_procs.stop(worker)
    return {"chain_s": seconds, "chain_steps_per_s": args.chain / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench_workflows.py")
    parser.add_argument("system", choices=["litequeue", "celery"])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--chord", type=int, default=1_000)
    parser.add_argument("--chords", type=int, default=5)
    parser.add_argument("--chain", type=int, default=1_000)
    args = parser.parse_args()
    part = litequeue_part if args.system == "litequeue" else celery_part
    print(json.dumps(part(args)))


if __name__ == "__main__":
    main()


# -- what bench.py calls ----------------------------------------------------------------------------

def run(config, workdir: str, cache_dir: str, compare: bool, repeat, quiet: bool) -> dict:
    """``config.runs`` runs of the litequeue part and, with ``compare`` (and Celery's virtualenv
    from bench_peers), of Celery's chain, alternating, each in a fresh interpreter."""
    import subprocess

    sizes = ["--members", str(config.n), "--chord", str(max(config.n // 10, 10)), "--chain",
             str(max(config.n // 10, 10))]

    def part(python: str, system: str) -> dict:
        cmd = [python, os.path.abspath(__file__), system, "--workdir", workdir, *sizes]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"bench_workflows {system} failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    out: dict = {"litequeue": repeat("workflows", config.runs, part, sys.executable, "litequeue", quiet=quiet)}
    if compare:
        import bench_peers

        peer = next(p for p in bench_peers.PEERS if p.system == "celery")
        try:
            python = bench_peers.ensure_venv(cache_dir, peer, quiet)
            out["celery"] = repeat("workflows celery", config.runs, part, python, "celery", quiet=quiet)
        except Exception as exc:  # a peer that cannot run is reported, not fatal
            out["celery_error"] = str(exc)[-500:]
    return out


def render(report: dict, config: dict) -> str:
    """The workflow figures, medians of the runs, beside their same-run baselines."""
    import statistics

    runs = report["litequeue"]

    def med(key: str, rows: list) -> float:
        return statistics.median(r[key] for r in rows)

    n = config["n"]
    lines = [f"Workflows ({n:,}-member group, {max(n // 10, 10):,}-member chord x5, "
             f"{max(n // 10, 10):,}-step chain; median of {len(runs)} run(s)):",
             f"  group enqueue (one transaction)   {med('group_enqueue_s', runs) * 1000:9.0f} ms   "
             f"baseline task.starmap (bulk)  {med('bulk_enqueue_s', runs) * 1000:9.0f} ms",
             f"  group drain (worker -c 2)         {med('group_drain_s', runs):9.2f} s    "
             f"baseline bulk drain           {med('bulk_drain_s', runs):9.2f} s",
             f"  chord: last member end -> callback start  p50 {med('chord_p50_ms', runs):.1f} ms "
             "(target <= 5 ms; Celery's database backends poll chord_unlock every 1 s)",
             f"  chain: {med('chain_steps_per_s', runs):,.0f} steps/s"]
    if report.get("celery"):
        celery = med("chain_steps_per_s", report["celery"])
        lines[-1] += (f"   Celery+Redis in the same run: {celery:,.0f} steps/s  "
                      f"(x{med('chain_steps_per_s', runs) / celery:.1f}; target >= x4)")
    elif report.get("celery_error"):
        lines[-1] += f"   (Celery not measured: {report['celery_error'].splitlines()[-1]})"
    return "\n".join(lines)
