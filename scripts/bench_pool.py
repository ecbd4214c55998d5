"""The pool's figures (issue 18) against Huey on Redis and a baseline tree, interleaved run by run.

    python scripts/bench.py --pool --baseline /work/main --runs 3

Each run measures, for this tree's litequeue, the baseline tree's (when given) and Huey with Redis
storage (``huey_consumer -k process -w 2``), one after another in a rotating order, so that all
three meet the same moments of a noisy machine. Each runs from a virtualenv of its own runtime
dependencies (litequeue's: peewee, APScheduler, click, as a SQLite install has them):

- drain: 10,000 no-op jobs queued, a 2-process worker started, until the last is done;
- latency p50/p99: one job every 50 ms to an idle worker, enqueue to start (bench_runner session);
- first job after 10 s idle from a fresh producer: a new process's first send (which opens the
  store, or connects to Redis) to the job's start;
- revoke: ``revoke(terminate=True)`` of a running job until its process has stopped and the
  store reads REVOKED (litequeue only; p50/p95 over 20 jobs).

The ratios the issue sets targets for are taken run by run (litequeue / Huey) and their medians
printed. Each litequeue tree's package is copied into the work directory and compiled to bytecode
first, and runs from there (first on PYTHONPATH, with this tree's benchmark scripts): as an
installed package runs, and as Huey runs from its virtualenv. Without that, a machine with
PYTHONDONTWRITEBYTECODE set compiles every module of every worker and producer on each start
(about 1.5 s of a worker's start, 10 ms of a fresh producer's first send on a loaded 2-core
machine), which is not litequeue's cost. Nothing here is a test: no number fails anything.
"""

from __future__ import annotations

import compileall
import configparser
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(SCRIPTS)
FRESH_SAMPLES = 2  # fresh-producer samples per run, each after its own idle wait
REVOKE_SAMPLES = 20
TARGETS = [  # (label, litequeue key, huey key, how the ratio reads, target)
    ("drain, litequeue / Huey", "drain_rate_to_last_done", "drain_rate", "higher is better", ">= 3.0x"),
    ("latency p50, litequeue / Huey", "latency_p50_ms", "latency_p50_ms", "lower is better", "<= 1.25x"),
    ("first job after idle, fresh producer, litequeue / Huey", "fresh_after_idle_ms", "fresh_after_idle_ms",
     "lower is better", "<= 1.0x"),
]


def part(system: str, name: str, workdir: str, config, python: str = sys.executable, tree: str | None = None,
         options: dict | None = None, n: int | None = None, idle_wait: float | None = None) -> dict:
    """One bench_runner part in a fresh interpreter; ``tree``: a litequeue tree first on PYTHONPATH."""
    cmd = [python, os.path.join(SCRIPTS, "bench_runner.py"), system, name, "--workdir", workdir,
           "--n", str(n or config.n), "--samples", str(config.samples),
           "--idle-wait", str(config.idle_wait if idle_wait is None else idle_wait)]
    cmd += [f"--option={k}={v}" for k, v in (options or {}).items()]
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{system} {name} ({tree or 'this tree'}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compiled_copy(tree: str, workdir: str, name: str) -> str:
    """A copy of ``tree``'s litequeue package, compiled to bytecode; the directory to put first on
    PYTHONPATH."""
    place = os.path.join(workdir, f"tree-{name}")
    shutil.copytree(os.path.join(tree, "litequeue"), os.path.join(place, "litequeue"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(place, quiet=1):
        raise RuntimeError(f"could not compile {tree}'s litequeue package")
    return place


def core_packages() -> tuple[str, ...]:
    """litequeue's runtime dependencies, as setup.cfg declares them. litequeue runs as a SQLite user
    has it after ``pip install litequeue``: in a virtualenv of these alone, as each peer runs from
    one of its own. (The development virtualenv also holds the PostgreSQL drivers, which peewee
    imports when it is imported: some 70 ms of every worker's start that a SQLite install never pays.)"""
    config = configparser.ConfigParser()
    config.read(os.path.join(HERE, "setup.cfg"))
    return tuple(line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip())


def litequeue_from(tree: str, python: str = sys.executable) -> str:
    """The file ``import litequeue`` loads with ``tree`` first on PYTHONPATH (to show which ran)."""
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([python, "-c", "import litequeue; print(litequeue.__file__)"], env=env,
                         capture_output=True, text=True, check=True, cwd=SCRIPTS)  # where the parts run
    return out.stdout.strip()


def run(config, workdir: str, cache_dir: str, baseline: str | None, quiet: bool) -> dict:
    """{"runs": [{system: {metric: value}}], "notes": [...]} for ``config.runs`` interleaved runs."""
    import bench_peers

    huey = next(p for p in bench_peers.PEERS if p.name == "huey-redis")
    if not bench_peers.redis_up():
        raise RuntimeError("Redis does not answer on 127.0.0.1:6379; start redis-server to compare")
    compileall.compile_dir(SCRIPTS, quiet=1, maxlevels=0)  # bench_tasks, imported by every worker
    runtime = bench_peers.Peer("litequeue", "litequeue", "litequeue-core", core_packages(), "runtime dependencies")
    names = tuple(re.split(r"[<>=!~\[; ]", spec)[0] for spec in runtime.packages)
    core = bench_peers.ensure_venv(cache_dir, runtime, quiet)
    systems = [("litequeue", dict(system="litequeue", tree=compiled_copy(HERE, workdir, "this"), python=core))]
    if baseline:
        systems.append(("baseline", dict(system="litequeue", tree=compiled_copy(baseline, workdir, "baseline"),
                                         python=core)))
    systems.append(("huey-redis", dict(system="huey", python=bench_peers.ensure_venv(cache_dir, huey, quiet),
                                       options=huey.options)))
    notes = [f"{name}: litequeue from {source} (compiled copy: {litequeue_from(spec['tree'], core)})"
             for (name, spec), source in zip(systems, [HERE, baseline], strict=False) if "tree" in spec]
    notes.append(f"litequeue's trees run in a virtualenv of their runtime dependencies only: "
                 f"{bench_peers.versions(core, dataclasses.replace(runtime, packages=names))}")
    notes.append(f"huey-redis: {bench_peers.versions(systems[-1][1]['python'], huey)}, {huey.note}")
    runs = []
    for i in range(config.runs):
        order = systems[i % len(systems):] + systems[:i % len(systems)]  # each goes first in turn
        results: dict = {}
        for name, spec in order:
            if not quiet:
                print(f"[bench_pool] run {i + 1}/{config.runs}: {name}", file=sys.stderr, flush=True)
            where = os.path.join(workdir, f"pool-{name}-{i}")
            out = {}
            out.update(part(name=("drain"), workdir=where, config=config, **spec))
            out.update(part(name="session", workdir=where, config=config, **spec))
            out.update(part(name="fresh", workdir=where, config=config, n=FRESH_SAMPLES, **spec))
            if spec["system"] == "litequeue":
                out.update(part(name="revoke", workdir=where, config=config, n=REVOKE_SAMPLES, **spec))
            results[name] = out
        runs.append(results)
    return {"runs": runs, "notes": notes}


def _ratio(runs: list[dict], system: str, mine: str, theirs: str) -> list[float]:
    return [r[system][mine] / r["huey-redis"][theirs] for r in runs if system in r and "huey-redis" in r]


def render(report: dict) -> str:
    runs = report["runs"]
    systems = list(runs[0])
    med = lambda system, key: statistics.median(r[system][key] for r in runs)  # noqa: E731
    lines = [f"The pool's figures ({len(runs)} interleaved run(s); medians; -c 2 / -w 2):",
             f"{'system':<12}{'drain/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'fresh after idle ms':>21}"
             f"{'revoke p50 / p95 ms':>22}"]
    for system in systems:
        revoke = (f"{med(system, 'revoke_p50_ms'):.1f} / {med(system, 'revoke_p95_ms'):.1f}"
                  if "revoke_p50_ms" in runs[0][system] else "—")
        drain_key = "drain_rate_to_last_done" if system != "huey-redis" else "drain_rate"
        lines.append(f"{system:<12}{med(system, drain_key):>10,.0f}{med(system, 'latency_p50_ms'):>9.2f}"
                     f"{med(system, 'latency_p99_ms'):>9.2f}{med(system, 'fresh_after_idle_ms'):>21.2f}{revoke:>22}")
    lines.append("Targets (ratios taken run by run, median; per run in brackets):")
    for label, mine, theirs, reading, target in TARGETS:
        for system in [s for s in systems if s != "huey-redis"]:
            ratios = _ratio(runs, system, mine, theirs)
            lines.append(f"  {label.replace('litequeue', system)}: {statistics.median(ratios):.2f}x "
                         f"[{', '.join(f'{x:.2f}' for x in ratios)}] ({reading}; target {target})")
    if "revoke_p50_ms" in runs[0]["litequeue"]:
        both = [r["litequeue"] for r in runs]
        lines.append(f"  revoke(terminate=True), call -> child stopped and REVOKED stored: p50 "
                     f"{statistics.median(x['revoke_p50_ms'] for x in both):.1f} ms, p95 "
                     f"{statistics.median(x['revoke_p95_ms'] for x in both):.1f} ms (child stopped p50 "
                     f"{statistics.median(x['revoke_stopped_p50_ms'] for x in both):.1f} ms, REVOKED stored p50 "
                     f"{statistics.median(x['revoke_stored_p50_ms'] for x in both):.1f} ms; target 100 ms)")
    lines += [f"  {note}" for note in report["notes"]]
    return "\n".join(lines)
