"""``bench.py --growth``: do claims and drains stay fast as the store grows?

Three stores, each built once and reused by every run: empty; a backlog of N due jobs in the
queue being drained; N jobs scheduled hours ahead. The backlog is written with raw SQL into
litequeue's own schema (created by opening the store), which takes seconds rather than minutes.
Each run drains 10,000 jobs with a long-running ``litequeue worker DB -A bench_tasks -c 2`` that
is stopped once 10,000 jobs have finished since it started (the same method on every store), and
claims+acks 10,000 jobs in-process, one and 32 at a time.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import uuid

COLUMNS = (
    "task_id, task, queue, routing_key, priority, state, body, content_type, eta, wait_until, expires, "
    "created_at, attempts, max_retries, acks_late, ignore_result, durable"
)
HOURS_AHEAD = 3 * 3600
LABELS = {"empty": "empty store", "queued": "{n:,} jobs queued ahead", "scheduled": "{n:,} jobs scheduled 3 h ahead"}


def build(path: str, kind: str, n: int, quiet: bool) -> float:
    """Create litequeue's schema at ``path`` and write ``n`` backlog jobs; returns the seconds taken."""
    from litequeue import LiteQueue

    t = time.perf_counter()
    app = LiteQueue(path)
    app.store  # noqa: B018 - creates the schema and indexes
    app.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    insert = f"INSERT INTO lq_jobs ({COLUMNS}) VALUES ({marks})"
    now, batch = time.time(), 100_000
    for start in range(0, n, batch):
        rows = [_row(kind, now, i) for i in range(start, min(start + batch, n))]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
        if not quiet:
            print(f"[bench] growth: {kind} backlog {min(start + batch, n):,}/{n:,}", file=sys.stderr, flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t


def _row(kind: str, now: float, i: int) -> tuple:
    eta = now + HOURS_AHEAD + i * 0.001 if kind == "scheduled" else None
    return (str(uuid.uuid4()), "bench_tasks.noop", "default", "default", 0, "QUEUED", b"[[],{}]",
            "application/json", eta, eta, None, now, 0, 3, 1, 0, 1)


def run(config, workdir: str, run_part, repeat, quiet: bool) -> dict:
    """Build the three stores, then ``config.runs`` runs on each; returns runs per store."""
    n = config.growth_backlog
    stores, built = {}, {}
    for kind in ("empty", "queued", "scheduled"):
        stores[kind] = os.path.join(workdir, f"growth-{kind}.sqlite")
        built[kind] = build(stores[kind], kind, 0 if kind == "empty" else n, quiet)

    def one_run(kind: str) -> dict:
        out = run_part("litequeue", "drain", workdir, config, options={"db": stores[kind], "burst": "0"})
        out.update(run_part("litequeue", "claim", workdir, config, options={"db": stores[kind], "sync": "normal"}))
        return out

    scenarios = {kind: repeat(f"growth {kind}", config.runs, one_run, kind, quiet=quiet) for kind in stores}
    return {
        "backlog": n, "scenarios": scenarios, "build_seconds": built,
        "labels": {k: v.format(n=n) for k, v in LABELS.items()},
        "notes": [
            f"drain: {config.n:,} jobs by `litequeue worker DB -A bench_tasks -c 2` (no --burst: a backlog never "
            "empties), from worker start until that many finished; same method on every store.",
            "claim+ack: Store.claim / Store.finish in-process at synchronous=NORMAL; the queued store claims "
            "from the head of its backlog.",
            "backlogs written with raw SQL into litequeue's schema in "
            + ", ".join(f"{k} {v:.0f} s" for k, v in built.items()) + ".",
        ],
    }
