"""Tasks the test suite runs through real workers (``-A tests.support.tasks``).

Each execution can be counted without trusting litequeue: ``record`` creates one ledger file per
attempt with O_EXCL in the directory named by $LQ_LEDGER.
"""

import asyncio
import os
import time

from litequeue import LiteQueue, get_task_logger
from litequeue.contrib.abortable import AbortableTask

if os.environ.get("LQ_CLOCK_AHEAD"):  # this process plays a machine whose clock runs ahead (clock-skew tests)
    _machine_time, _ahead = time.time, float(os.environ["LQ_CLOCK_AHEAD"])
    time.time = lambda: _machine_time() + _ahead

app = LiteQueue(os.environ.get("LQ_TEST_DB"))
# Short leases and heartbeats so crash-recovery tests take seconds, not minutes.
app.conf.worker_lease_seconds = float(os.environ.get("LQ_LEASE", "3"))
app.conf.worker_heartbeat_interval = float(os.environ.get("LQ_HEARTBEAT", "0.5"))
app.conf.worker_poll_interval = float(os.environ.get("LQ_POLL", "0.5"))
app.conf.worker_autoscale_keepalive = float(os.environ.get("LQ_KEEPALIVE", "30"))


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


@app.task(rate_limit="20/s", soft_time_limit=0.01)
def paced_and_soft_limited(key):
    """Rate-limited runs a moment apart (a run may wait for its granted start before the task's
    code), each with a soft limit shorter than that wait."""
    ledger_write(key)


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
if os.environ.get("LQ_FAILURE_EXPIRES"):
    app.conf.failure_expires = float(os.environ["LQ_FAILURE_EXPIRES"])
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


# -- retries tier (issue 4) -----------------------------------------------------------------------
from litequeue import Reject, signals  # noqa: E402


class FlakyError(OSError):
    """A transient failure of the user's own (an OSError, so autoretry_for=(OSError,) covers it)."""


def _execution(key: str) -> int:
    """Record one execution of ``key``; returns how many ran before it (0 for the first)."""
    return int(ledger_write(key).rsplit(".", 1)[1])


@app.task(bind=True, autoretry_for=(OSError,), max_retries=3, default_retry_delay=0)
def flaky(self, key, failures):
    """Fails ``failures`` times with FlakyError, then returns how many retries it took."""
    ledger_write(key)
    if self.request.retries < failures:
        raise FlakyError(f"flaky failure {self.request.retries + 1} of {failures}")
    return self.request.retries


@app.task(autoretry_for=(FlakyError,), max_retries=None, default_retry_delay=0)
def flaky_forever(key, failures):
    """Retries without limit (max_retries=None) until it has failed ``failures`` times."""
    if _execution(key) < failures:
        raise FlakyError("not yet")
    return "finally"


@app.task(autoretry_for=(Exception,), dont_autoretry_for=(KeyError,), max_retries=2, default_retry_delay=0)
def fails_with(key, kind):
    """Raises KeyError (never retried) or LookupError (retried) every time."""
    ledger_write(key)
    raise KeyError(key) if kind == "KeyError" else LookupError(key)


@app.task(autoretry_for=(FlakyError,), max_retries=3, retry_backoff=10, retry_backoff_max=25, retry_jitter=False)
def backoff_fails(key):
    ledger_write(key)
    raise FlakyError("still down")


@app.task(autoretry_for=(FlakyError,), max_retries=1, retry_backoff=100, retry_jitter=True)
def jittered_fails(key):
    ledger_write(key)
    raise FlakyError("still down")


@app.task(autoretry_for=(FlakyError,), max_retries=1, default_retry_delay=60)
def fails_once_soon(key):
    """Fails its first run; the retry is due a minute later."""
    if _execution(key) == 0:
        raise FlakyError("first run fails")
    return "second run"


@app.task(bind=True)
def retry_later(self, key, countdown=None, eta=None):
    """Asks for one explicit retry (countdown or eta), then returns self.request.retries."""
    ledger_write(key)
    if self.request.retries == 0:
        raise self.retry(exc=FlakyError("try later"), countdown=countdown, eta=eta)
    return self.request.retries


@app.task(bind=True, max_retries=2)
def retry_until_limit(self, key, with_exc, limit=None):
    """Always asks to retry at once; past the limit self.retry raises."""
    ledger_write(f"{key}-r{self.request.retries}")
    exc = FlakyError(f"attempt {self.request.retries + 1}") if with_exc else None
    raise self.retry(exc=exc, countdown=0, max_retries=limit)


@app.task(bind=True, autoretry_for=(Exception,), default_retry_delay=0)
def rejects(self, key, requeue):
    """Rejects its first run (requeued or not); a requeued second run succeeds and returns the
    retries it saw (a requeue is no retry: 0)."""
    if ledger_write(key).endswith(".0"):
        raise Reject("not for me", requeue=requeue)
    return ["accepted", self.request.retries]


@app.task(max_retries=1)
def exits_hard(key):
    ledger_write(key)
    os._exit(3)


@app.task(max_retries=0)
def fails_first_run(key):
    """Fails the first time it ever runs (per ledger key); succeeds after that."""
    if _execution(key) == 0:
        raise FlakyError("first run fails")
    return "ran again"


_SIGNALLED = {t.name for t in (flaky, fails_with, retry_until_limit)}


@signals.task_retry.connect
def _ledger_task_retry(sender=None, request=None, **kwargs):
    if sender is not None and sender.name in _SIGNALLED:
        ledger_write(f"task_retry-{request.id}")  # request: the job's Request, as self.request


@signals.task_failure.connect
def _ledger_task_failure(sender=None, task_id=None, **kwargs):
    if sender is not None and sender.name in _SIGNALLED:
        ledger_write(f"task_failure-{task_id}")


@signals.worker_shutting_down.connect
def _ledger_shutting_down(sender=None, how=None, **kwargs):
    if os.environ.get("LQ_LEDGER_SHUTDOWN"):  # only where a test asks: most tests count the ledger exactly
        ledger_write(f"worker_shutting_down-{how}")


@app.task(bind=True)
def long_the_first_time(self, key, seconds):
    """Sleep ``seconds`` on the first execution of ``key`` only (per the ledger); returns the
    number of executions so far."""
    runs = sum(1 for n in os.listdir(os.environ["LQ_LEDGER"]) if n.rsplit(".", 1)[0] == key)
    ledger_write(key)
    if runs == 0:
        time.sleep(seconds)
    return {"runs": runs + 1, "hostname": self.request.hostname}


@app.task
def record_time(key):
    """Records an execution and returns when it ran (ns), so tests can see the order jobs ran in."""
    ledger_write(key)
    return time.time_ns()


@app.task(name="proj.tasks.add", bind=True)
def proj_add(self, x, y):
    """The routing guide's example task: the sum, and the worker and queue that ran it."""
    return {"sum": x + y, "worker": self.request.hostname, "queue": self.request.delivery_info["queue"]}


@app.task(bind=True)
def reports_progress(self, key, total):
    """Reports PROGRESS {"done": 1, "total": total}, then waits for the ledger file ``key-go``."""
    self.update_state(state="PROGRESS", meta={"done": 1, "total": total})
    ledger_write(f"{key}-reported")
    go = os.path.join(os.environ["LQ_LEDGER"], f"{key}-go")
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.02)
    return total


# -- PostgreSQL tier (issue 9) --------------------------------------------------------------------
@app.task
def order_total(order_id):
    """Reads an order row of the application's own (table ``orders``, in the store's database):
    a job sent inside app.transaction() must only run once that row is committed."""
    url = app.url
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg2

        from litequeue.store.postgres import parse_url

        target = parse_url(url)
        conn = psycopg2.connect(dbname=target.dbname, **target.connect_params())
    else:
        import sqlite3

        conn = sqlite3.connect(url)
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT total FROM orders WHERE id = {int(order_id)}")
        found = cursor.fetchone()
    finally:
        conn.close()
    if found is None:
        raise LookupError(f"order {order_id} is not there (not committed yet?)")
    return found[0]


@app.task(bind=True)
def whoami_eager(self):
    return self.request.is_eager


# -- logs and the dashboard (issue 19) ---------------------------------------------------------------
task_log = get_task_logger(__name__)


@app.task
def chatty(word):
    """Logs through get_task_logger and prints: both must reach the worker's log."""
    task_log.warning("logged %s", word)
    print(f"printed {word}")
    return word


# -- poison outcomes (issue 21, item 4) ---------------------------------------------------------

UNDECODABLE_NAME = os.fsdecode(b"caf\xe9.txt")  # what a task gets for a Latin-1 file name: a lone surrogate


@app.task
def raises_undecodable(key):
    ledger_write(key)
    raise RuntimeError(f"could not process {UNDECODABLE_NAME}")


class Unprintable(Exception):
    def __str__(self):
        raise ValueError("no str")

    def __repr__(self):
        raise ValueError("no repr")


@app.task
def raises_unprintable(key):
    ledger_write(key)
    raise Unprintable()


@app.task
def returns_undecodable(key):
    ledger_write(key)
    return UNDECODABLE_NAME


@app.task
def retries_at_an_impossible_time(key):
    from litequeue.errors import Retry

    ledger_write(key)
    raise Retry("later", when=10**30)  # a retry time no database column can hold


# -- the pool (issue 18) ----------------------------------------------------------------------------


@app.task
def span(seconds):
    """Sleep; return [start, end] (wall clock), to see how jobs were spread over the pool."""
    start = time.time()
    time.sleep(seconds)
    return [start, time.time()]


@app.task
async def async_double(x):
    await asyncio.sleep(0.01)
    return 2 * x


@app.task
async def async_sleep(seconds):
    """Await a sleep; return [start, end] (wall clock)."""
    start = time.time()
    await asyncio.sleep(seconds)
    return [start, time.time()]


@app.task
def steps_until_soft_limit(key, seconds):
    """Work in short steps (a thread's soft limit lands between Python instructions)."""
    from litequeue.errors import SoftTimeLimitExceeded

    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)
    except SoftTimeLimitExceeded:
        ledger_write(f"{key}-cleanup")
        return "cleaned up"
    return "not interrupted"


@app.task
def outlives_soft_limit(key, seconds):
    """Catch the soft limit, record it, and go on working (into the hard limit), in short steps
    (a thread's limits land between Python instructions)."""
    from litequeue.errors import SoftTimeLimitExceeded

    def work():
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)

    ledger_write(f"{key}-start")
    try:
        work()
    except SoftTimeLimitExceeded:
        ledger_write(f"{key}-soft")
        work()
    ledger_write(key)


@app.task
def until_file(key, path, seconds=60):
    """Run until ``path`` exists (the test says when), then record ``key``."""
    ledger_write(f"{key}-start")
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    ledger_write(key)


@app.task(bind=True)
def until_revoked(self, key, seconds=30):
    """Work in short steps until revoked (self.is_revoked()); return how it ended."""
    ledger_write(f"{key}-start")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if self.is_revoked():
            ledger_write(f"{key}-stopped")
            return "stopped"
        time.sleep(0.01)
    return "ran out"


@app.task(bind=True, base=AbortableTask)
def until_aborted(self, key, seconds=30):
    """Work in short steps until aborted (self.is_aborted()); return how it ended."""
    ledger_write(f"{key}-start")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if self.is_aborted():
            ledger_write(f"{key}-aborted")
            return "aborted"
        time.sleep(0.01)
    return "ran out"


# -- workflows tier (issue 16) ----------------------------------------------------------------------
from tests.support import canvas_tasks, ignore_tasks  # noqa: E402, F401
