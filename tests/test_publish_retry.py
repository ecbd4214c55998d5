"""Retrying the enqueue itself (``apply_async(retry=True, retry_policy=...)``) while another
connection holds SQLite's write lock with BEGIN IMMEDIATE."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from litequeue import states
from litequeue.config import DEFAULT_PUBLISH_RETRY_POLICY, Settings
from litequeue.errors import InvalidOptionError, StoreLocked
from tests.support import tasks

RETRY_LOG = "retrying the enqueue"


class WriteLock:
    """Another process holding SQLite's write lock until ``release()``. (Not a connection of this
    process: one held here while nothing else runs would be a self-deadlock, refused at once.)"""

    _HOLD = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
             "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read(); c.execute('COMMIT')")

    def __init__(self, db: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self._HOLD, db], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()  # the holder commits and exits
            self.proc.wait(30)
            self.proc.stdout.close()


class RetryWatcher(logging.Handler):
    """Counts the enqueue's retry warnings and signals the first one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries = 0
        self.first = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if RETRY_LOG in record.getMessage():
            self.retries += 1
            self.first.set()


@pytest.fixture
def locked_app(app, monkeypatch):
    """The test app with a 0.1 s busy timeout and its database created (not yet locked)."""
    monkeypatch.setattr(app.conf, "sqlite_busy_timeout", 0.1)
    _ = app.store
    return app


@pytest.fixture
def watcher() -> Iterator[RetryWatcher]:
    handler = RetryWatcher()
    logger = logging.getLogger("litequeue.calling")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@contextlib.contextmanager
def write_lock(db: str) -> Iterator[WriteLock]:
    lock = WriteLock(db)
    try:
        yield lock
    finally:
        lock.release()


def stored_jobs(app) -> int:
    return len(app.store.list_jobs())


def test_the_default_publish_policy_is_three_quick_retries():
    assert Settings().task_publish_retry is True
    assert Settings().task_publish_retry_policy == DEFAULT_PUBLISH_RETRY_POLICY == {
        "max_retries": 3, "interval_start": 0.0, "interval_step": 0.2, "interval_max": 0.2}


def test_delay_succeeds_when_the_competing_writer_lets_go_within_the_policy(locked_app, watcher):
    with write_lock(locked_app.url) as lock:
        releaser = threading.Thread(target=lambda: watcher.first.wait(30) and lock.release())
        releaser.start()
        result = tasks.add.delay(2, 3)  # the first try meets the lock; a retry finds it free
        releaser.join(30)
    assert watcher.retries >= 1
    assert result.job_state == states.QUEUED
    assert stored_jobs(locked_app) == 1


def test_delay_gives_up_with_store_locked_after_the_policy_max_retries(locked_app, watcher):
    with write_lock(locked_app.url), pytest.raises(StoreLocked) as raised:
        tasks.add.delay(2, 3)
    assert watcher.retries == 3
    message = str(raised.value)
    assert "sqlite_busy_timeout" in message and "retried 3 time(s)" in message
    assert "nothing was enqueued" in message
    assert stored_jobs(locked_app) == 0


def test_retry_false_fails_fast_without_retrying(locked_app, watcher):
    with write_lock(locked_app.url), pytest.raises(StoreLocked, match="sqlite_busy_timeout"):
        tasks.add.apply_async((2, 3), retry=False)
    assert watcher.retries == 0
    assert stored_jobs(locked_app) == 0


def test_a_per_call_retry_policy_sets_the_number_of_retries(locked_app, watcher):
    with write_lock(locked_app.url), pytest.raises(StoreLocked, match="retried 1 time"):
        tasks.add.apply_async((2, 3), retry_policy={"max_retries": 1, "interval_step": 0})
    assert watcher.retries == 1


def test_app_wide_task_publish_retry_false_turns_retries_off(locked_app, watcher, monkeypatch):
    monkeypatch.setattr(locked_app.conf, "task_publish_retry", False)
    with write_lock(locked_app.url), pytest.raises(StoreLocked):
        tasks.add.delay(2, 3)
    assert watcher.retries == 0


def test_app_wide_task_publish_retry_policy_applies_to_every_call(locked_app, watcher, monkeypatch):
    monkeypatch.setattr(locked_app.conf, "task_publish_retry_policy", {"max_retries": 2, "interval_start": 0.05})
    assert locked_app.conf.task_publish_retry_policy["interval_step"] == 0.2  # unspecified keys keep defaults
    with write_lock(locked_app.url), pytest.raises(StoreLocked, match="retried 2 time"):
        tasks.add.delay(2, 3)
    assert watcher.retries == 2


@pytest.mark.parametrize("policy, problem", [
    ({"max_retries": -1}, "max_retries must be an integer >= 0"),
    ({"max_retries": 1.5}, "max_retries must be an integer >= 0"),
    ({"interval_start": -1}, "interval_start must not be negative"),
    ({"interval_step": "soon"}, "interval_step must be a number of seconds"),
    ({"interval_max": float("inf")}, "interval_max must be a finite number"),
    ({"retry_errors": (OSError,)}, "unknown key(s) ['retry_errors']"),
])
def test_a_bad_retry_policy_is_refused_and_nothing_is_enqueued(app, policy, problem):
    with pytest.raises(InvalidOptionError) as raised:
        tasks.add.apply_async((2, 3), retry_policy=policy)
    assert problem in str(raised.value)
    assert stored_jobs(app) == 0


def test_a_retry_that_finds_its_job_already_stored_after_a_dropped_connection_succeeds():
    from litequeue.errors import DuplicateJob, StoreUnavailable
    from litequeue.publish_retry import with_publish_retry

    attempts = []

    def enqueue():
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreUnavailable("connection dropped while committing")
        raise DuplicateJob("a job with this task_id already exists")

    with_publish_retry(enqueue, True, {"interval_start": 0})
    assert len(attempts) == 2


def test_a_duplicate_task_id_without_a_dropped_connection_is_an_error(app):
    from litequeue.errors import DuplicateJob
    from tests.support.tasks import add

    add.apply_async((1, 2), task_id="same-id")
    with pytest.raises(DuplicateJob, match="already exists"):
        add.apply_async((1, 2), task_id="same-id")
    assert app.store.count_jobs() == 1
