"""The procrastinate side of ``bench_postgres.py --compare-procrastinate``.

It runs only inside the procrastinate virtualenv that bench_postgres.py creates, never in
litequeue's own environment. The database comes from ``LQ_BENCH_PROCRASTINATE_URL``.

    python bench_peer_procrastinate.py setup N   # apply procrastinate's schema, defer N no-op jobs
    python bench_peer_procrastinate.py version   # the installed procrastinate and psycopg versions
    procrastinate --app=bench_peer_procrastinate.app worker ...   # the worker the benchmark times
"""

from __future__ import annotations

import os
import sys

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("LQ_BENCH_PROCRASTINATE_URL", "")))


@app.task(name="bench_postgres.noop")
def noop(i):
    return i


def setup(n: int) -> None:
    """Apply the schema to the empty scratch database and defer n jobs in batches of 1000."""
    with app.open():
        app.schema_manager.apply_schema()
        for start in range(0, n, 1000):
            noop.batch_defer(*({"i": i} for i in range(start, min(n, start + 1000))))


def version() -> None:
    import importlib.metadata as metadata

    print(f"procrastinate {metadata.version('procrastinate')}, psycopg {metadata.version('psycopg')}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"] and len(sys.argv) == 3:
        setup(int(sys.argv[2]))
    elif sys.argv[1:] == ["version"]:
        version()
    else:
        raise SystemExit(__doc__)
