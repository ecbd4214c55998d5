"""Tasks the test suite runs through real workers (``-A tests.support.tasks``).

Each execution can be counted without trusting litequeue: ``record`` creates one ledger file per
attempt with O_EXCL in the directory named by $LQ_LEDGER.
"""

import os
import time

from litequeue import LiteQueue

app = LiteQueue(os.environ.get("LQ_TEST_DB"))
# Short leases and heartbeats so crash-recovery tests take seconds, not minutes.
app.conf.worker_lease_seconds = float(os.environ.get("LQ_LEASE", "3"))
app.conf.worker_heartbeat_interval = float(os.environ.get("LQ_HEARTBEAT", "0.5"))
app.conf.worker_poll_interval = float(os.environ.get("LQ_POLL", "0.5"))


def ledger_write(key: str) -> str:
    """Create a unique ledger file for one execution of ``key``; returns its name."""
    directory = os.environ["LQ_LEDGER"]
    n = 0
    while True:
        name = f"{key}.{n}"
        try:
            fd = os.open(os.path.join(directory, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            n += 1
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return name


@app.task
def add(x, y):
    return x + y


@app.task
def record(key, result=None):
    ledger_write(key)
    return result


@app.task
def slow_record(key, seconds):
    ledger_write(f"{key}-start")
    time.sleep(seconds)
    ledger_write(key)
    return seconds


@app.task
def fail(message="boom"):
    raise ValueError(message)


@app.task(bind=True)
def whoami(self):
    r = self.request
    return {"id": r.id, "retries": r.retries, "queue": r.delivery_info["queue"], "hostname": r.hostname}


@app.task
def crash(key):
    ledger_write(key)
    os.abort()
