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


# -- reliability tier (issue 3) -------------------------------------------------------------------
# Tests may shorten the busy timeout so a held write lock shows quickly.
app.conf.sqlite_busy_timeout = float(os.environ.get("LQ_BUSY_TIMEOUT", "5"))
_hoard = []  # memory a task keeps, so a child grows past max_memory_per_child


@app.task(bind=True)
def attempt_record(self, key, seconds=0.0):
    """Sleep, then record; returns which process and which attempt ran it."""
    ledger_write(f"{key}-start")
    time.sleep(seconds)
    ledger_write(key)
    return {"pid": os.getpid(), "attempt": self.request.retries + 1, "hostname": self.request.hostname}


@app.task
def exit_with(key, code):
    ledger_write(key)
    os._exit(code)


@app.task
def pid():
    return os.getpid()


@app.task
def catches_soft_limit(key, seconds):
    from litequeue.errors import SoftTimeLimitExceeded

    ledger_write(f"{key}-start")
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        ledger_write(f"{key}-cleanup")
        return "cleaned up"
    return "not interrupted"


@app.task(soft_time_limit=0.5)
def soft_limited_task(key):
    return catches_soft_limit.run(key, 30)


@app.task(time_limit=0.5)
def hard_limited_task(key):
    ledger_write(f"{key}-start")
    time.sleep(30)
    ledger_write(key)


@app.task
def hoard_memory(mib):
    _hoard.append(bytearray(mib * 1024 * 1024))
    return os.getpid()


@app.task
def returns_unserialisable():
    return object()


@app.task
def big_result(kib):
    return "x" * (kib * 1024)


# -- core tier (issue 2) --------------------------------------------------------------------------
# Tests may shorten result expiry (a worker prunes older finished jobs) and widen accept_content.
if os.environ.get("LQ_RESULT_EXPIRES"):
    app.conf.result_expires = float(os.environ["LQ_RESULT_EXPIRES"])
if os.environ.get("LQ_ACCEPT"):
    app.conf.accept_content = tuple(os.environ["LQ_ACCEPT"].split(","))


class TaskBoom(Exception):
    """An exception class of the user's own, raised by ``fail_custom``."""


@app.task
def fail_custom(message):
    raise TaskBoom(message)


@app.task
def echo(value):
    """Returns its argument, so a value round-trips through the store and a worker."""
    return value


@app.task
def record_value(key, value):
    """Records an execution and returns the argument's type name and value."""
    ledger_write(key)
    return [type(value).__name__, value]


def plain_function(x, y):
    """Not a task: a worker started without -A imports it by its name."""
    ledger_write(f"plain-{x}-{y}")
    return x * y
