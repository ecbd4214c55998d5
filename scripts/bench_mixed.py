"""The mixed workload (``bench.py --mixed``): 95 % 1 ms jobs and 5 % 200 ms jobs on a worker of two
processes, pre-queued (makespan against the ideal: the work divided by the processes) and as a
steady stream at 70 % of capacity (how long the short jobs wait to start, p50 and p99). With
--compare, Celery (prefork, its default -Ofair) and Huey on Redis run the same work."""

from __future__ import annotations

import functools
import os
import statistics

PEERS = ("celery+redis", "huey-redis")  # the adapters with a ``work`` task
KEYS = ("mixed_makespan_ratio", "mixed_makespan_s", "mixed_ideal_s", "mixed_short_wait_p50_ms",
        "mixed_short_wait_p99_ms")


def run(config, workdir: str, cache_dir: str, run_part, repeat, compare: bool, quiet: bool) -> dict:
    """{system: [run results]} for litequeue and, with ``compare``, the peers."""
    n = 200 if config.runs == 1 and config.n <= 1_000 else 1_000
    mine = functools.partial(run_part, n=n)
    out = {"litequeue": repeat("mixed litequeue", config.runs, mine, "litequeue", "mixed",
                               os.path.join(workdir, "mixed-litequeue"), config, quiet=quiet)}
    if compare:
        import bench_peers

        for peer in bench_peers.PEERS:
            if peer.name not in PEERS:
                continue
            try:
                python = bench_peers.ensure_venv(cache_dir, peer, quiet)
                theirs = functools.partial(run_part, python=python, options=peer.options, n=n)
                out[peer.name] = repeat(f"mixed {peer.name}", config.runs, theirs, peer.system, "mixed",
                                        os.path.join(workdir, f"mixed-{peer.name}"), config, quiet=quiet)
            except Exception as exc:  # reported, and the comparison goes on
                out[peer.name] = [{"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)}]
    return out


def render(mixed: dict) -> str:
    lines = ["Mixed workload (95 % 1 ms, 5 % 200 ms; 2 processes; median of runs):",
             f"{'system':<14}{'makespan/ideal':>16}{'makespan s':>12}{'ideal s':>9}"
             f"{'short wait p50 ms':>19}{'p99 ms':>9}"]
    for system, runs in mixed.items():
        if runs and "error" in runs[0]:
            lines.append(f"{system:<14}not measured: {runs[0]['error']}")
            continue
        med = {k: statistics.median(r[k] for r in runs) for k in KEYS}
        lines.append(f"{system:<14}{med['mixed_makespan_ratio']:>16.2f}{med['mixed_makespan_s']:>12.2f}"
                     f"{med['mixed_ideal_s']:>9.2f}{med['mixed_short_wait_p50_ms']:>19.1f}"
                     f"{med['mixed_short_wait_p99_ms']:>9.1f}")
    return "\n".join(lines)
