"""``bench.py --growth``: do claims and drains stay fast as the store grows?

Three stores, each built once and reused by every run: empty; a backlog of N due jobs in the
queue being drained; N jobs scheduled hours ahead. The backlog is written through the store's
own bulk insert in large transactions without waiting for the disk.
Each run drains 10,000 jobs with a long-running ``litequeue worker DB -A bench_tasks -c 2`` that
is stopped once 10,000 jobs have finished since it started (the same method on every store), and
claims+acks 10,000 jobs in-process, one and 32 at a time.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

HOURS_AHEAD = 3 * 3600
BATCH = 50_000
LABELS = {"empty": "empty store", "queued": "{n:,} jobs queued ahead", "scheduled": "{n:,} jobs scheduled 3 h ahead"}


def build(path: str, kind: str, n: int, quiet: bool) -> float:
    """Create a store at ``path`` holding ``n`` backlog jobs; returns the seconds taken.

    Written through Store.enqueue (litequeue's own insert, so it follows the schema) in big
    transactions at synchronous=OFF: a backlog is scaffolding, not a measurement."""
    from litequeue import LiteQueue
    from litequeue.store import NewJob

    t = time.perf_counter()
    app = LiteQueue(path, sqlite_synchronous="off")
    store, now = app.store, time.time()
    for start in range(0, n, BATCH):
        store.enqueue([
            NewJob(task_id=str(uuid.uuid4()), task="bench_tasks.noop", queue="default", routing_key="default",
                   body=b"[[],{}]", content_type="application/json",
                   eta=now + HOURS_AHEAD + i * 0.001 if kind == "scheduled" else None)
            for i in range(start, min(start + BATCH, n))])
        if not quiet:
            print(f"[bench] growth: {kind} backlog {min(start + BATCH, n):,}/{n:,}", file=sys.stderr, flush=True)
    app.close()
    return time.perf_counter() - t


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
            "backlogs written with Store.enqueue, 50,000 per transaction, synchronous=OFF, in "
            + ", ".join(f"{k} {v:.0f} s" for k, v in built.items()) + ".",
        ],
    }
