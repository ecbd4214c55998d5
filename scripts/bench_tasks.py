"""The benchmark's tasks for litequeue (``litequeue worker DB -A bench_tasks``, run from scripts/).

The database comes from the worker's command line (or $LQ_BENCH_DB for producers) and the
durability setting from $LQ_BENCH_SYNC (default: litequeue's default, "full").
"""

import os
import time

from litequeue import LiteQueue, Queue

app = LiteQueue(os.environ.get("LQ_BENCH_DB"), sqlite_synchronous=os.environ.get("LQ_BENCH_SYNC", "full"))
# "transient" is delivery_mode=1: its enqueues do not wait for the disk.
app.conf.task_queues = [Queue("celery"), Queue("transient", delivery_mode=1)]


@app.task
def noop():
    """Do nothing: what a drain measures is the queue."""


@app.task
def work(tag, seconds):
    """The mixed workload's job: sleep ``seconds``; return when it started."""
    start = time.time()
    time.sleep(seconds)
    return start


@app.task
def hold(tag, seconds):
    """The revoke benchmark's job: say which process runs it (a file named ``tag`` in
    $BENCH_LEDGER holding the pid, written whole), then sleep ``seconds``."""
    path = os.path.join(os.environ["BENCH_LEDGER"], tag)
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)


@app.task
def stamp(tag=None):
    """Return the time this job started (the latency measurement reads it from the result)."""
    return time.time()


# -- workflows (bench_workflows.py) ------------------------------------------------------------------

@app.task
def wf_member(i):
    """A chord member: returns its index and the time its body ended."""
    return [i, time.time()]


@app.task
def wf_callback(results):
    """A chord callback: returns the time it started and the latest member end it was given."""
    started = time.time()
    return [started, max(end for _, end in results), [i for i, _ in results] == list(range(len(results)))]


@app.task
def wf_step(x):
    """A chain step."""
    return x + 1
