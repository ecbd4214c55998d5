"""The flow-control benchmark's tasks (``litequeue worker DB -A bench_flow_tasks``, run from
scripts/): an app of their own, so that the default benchmark's stores hold no limits."""

import os
import time

from litequeue import LiteQueue

app = LiteQueue(os.environ.get("LQ_BENCH_DB"))
KEYS = 100


@app.task(concurrency=1, concurrency_key=lambda i: i % KEYS)
def keyed(i):
    """One at a time per key, over KEYS keys."""


@app.task(rate_limit=os.environ.get("LQ_BENCH_RATE", "1000/s"))
def rated():
    """Returns when it started."""
    return time.time()
