"""Tasks of the flow-control tier (issue 17), on an app of their own (``-A tests.support.flow_tasks``)
set up like the support app: kept apart so that no other test's worker declares these limits.
Each run records its start and end time (a ledger file "<key>.<n>" holding "start end pid"), so
the tests check rates and concurrency from the tasks' own clocks.
"""

import os
import time

from litequeue import LiteQueue, Queue
from litequeue.app import _apps
from tests.support.tasks import ledger_write

app = LiteQueue(os.environ.get("LQ_TEST_DB"))
_apps.remove(app)  # the support app stays the default one (AsyncResult(id) without app=) whatever the import order
_apps.insert(0, app)
app.conf.worker_lease_seconds = float(os.environ.get("LQ_LEASE", "3"))
app.conf.worker_heartbeat_interval = float(os.environ.get("LQ_HEARTBEAT", "0.5"))
app.conf.worker_poll_interval = float(os.environ.get("LQ_POLL", "0.5"))

if os.environ.get("LQ_FLOW_QUEUES"):  # "name=concurrency,...": queues with a concurrency limit
    app.conf.task_queues = (Queue("celery"), *(
        Queue(name, concurrency=int(n)) for name, n in (item.split("=") for item in
                                                         os.environ["LQ_FLOW_QUEUES"].split(","))))


def record_span(key: str, seconds: float, meet: tuple[str, str] | None = None) -> None:
    """Record one run of ``key``: when it started and ended (after sleeping ``seconds``, and with
    ``meet``, after meeting its partner first)."""
    start = time.time()
    if meet is not None:
        meet_partner(*meet)
    time.sleep(seconds)
    end = time.time()
    directory = os.environ["LQ_LEDGER"]
    n = 0
    while True:
        try:
            fd = os.open(os.path.join(directory, f"{key}.{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:
            n += 1
    os.write(fd, f"{start!r} {end!r} {os.getpid()}".encode())
    os.close(fd)


def meet_partner(me: str, partner: str, timeout: float = 30.0) -> None:
    """Say that run ``me`` has begun, then wait (up to ``timeout``) until run ``partner`` has
    begun too: two runs that meet are in progress together, whatever the scheduler does, unless
    a limit keeps them apart (then the wait times out and the runs do not overlap)."""
    directory = os.path.join(os.path.dirname(os.environ["LQ_LEDGER"]), "meet")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, me), "w"):
        pass
    deadline = time.monotonic() + timeout
    while not os.path.exists(os.path.join(directory, partner)) and time.monotonic() < deadline:
        time.sleep(0.005)


@app.task(rate_limit="10/s")
def rated(key, seconds=0.0):
    record_span(key, seconds)


@app.task(rate_limit="1/h")
def hourly(key):
    record_span(key, 0.0)


@app.task(concurrency=1, concurrency_key=lambda account, *args, **kwargs: account)
def per_account(account, seconds, meet=None):
    record_span(f"acct-{account}", seconds, meet)


@app.task(concurrency=2)
def two_at_a_time(key, seconds, meet=None):
    record_span(key, seconds, meet)


@app.task
def span(key, seconds, meet=None):
    record_span(key, seconds, meet)


@app.task(unique_for=60)
def refresh(key):
    ledger_write(f"refresh-{key}")
    return key


@app.task(concurrency=1, concurrency_key=lambda account, *args, **kwargs: account)
def keyed_slow(account, seconds):
    """Marks its start in the ledger first (a test can kill its worker meanwhile)."""
    ledger_write(f"{account}-start")
    record_span(account, seconds)
