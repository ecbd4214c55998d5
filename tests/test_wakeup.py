"""Local wake-ups: a producer's notify reaches every listening worker of the same database file,
also listeners that appear later (from their ``heard_from`` on) and after the wake directory was
removed and made again."""

from __future__ import annotations

import os
import select
import shutil
import time

import pytest

from litequeue.store.wakeup import Wakeup


@pytest.fixture
def wakeups(tmp_path):
    """(producer, worker): two Wakeups of one database file, as two processes would hold them."""
    db = str(tmp_path / "w.sqlite")
    open(db, "wb").close()  # the store exists: a worker starting elsewhere never sweeps its directory as stale
    producer, worker = Wakeup(db), Wakeup(db)
    yield producer, worker
    producer.close()


def heard(listener) -> None:
    """Wait until producers wake ``listener`` (they look for new listeners every few ms)."""
    time.sleep(max(listener.heard_from - time.monotonic(), 0.0))


def notify_reaches(producer, listener) -> bool:
    """Once producers know of ``listener``, does a notify wake it?"""
    heard(listener)
    producer.notify()
    return woken(listener)


def woken(listener, timeout: float = 2.0) -> bool:
    ready, _, _ = select.select([listener.fileno()], [], [], timeout)
    listener.drain()
    return bool(ready)


def test_a_notify_wakes_listeners_that_came_before_and_after_it(wakeups):
    producer, worker = wakeups
    producer.notify()  # no listener yet: nothing to wake, nothing raised
    first = worker.listen("first")
    assert notify_reaches(producer, first)
    second = worker.listen("second")
    heard(second)
    producer.notify()
    assert woken(first) and woken(second)
    first.close()
    producer.notify()
    assert woken(second)
    assert not woken(second, timeout=0.05)  # one notify, one wake-up
    second.close()


def test_a_removed_wake_directory_is_watched_again_once_made_anew(wakeups):
    producer, worker = wakeups
    old = worker.listen("old")
    assert notify_reaches(producer, old)
    old.close()
    shutil.rmtree(producer.dir)
    new = worker.listen("new")  # makes the directory again
    assert notify_reaches(producer, new)
    new.close()


def test_a_descriptor_closed_behind_the_producers_back_is_not_trusted(wakeups):
    producer, worker = wakeups
    producer.notify()
    os.close(producer._dir_fd)  # e.g. a daemonising library closing every descriptor
    decoy = os.open(os.path.dirname(producer.dir), os.O_RDONLY)  # most likely takes the same number
    listener = worker.listen("late")
    assert notify_reaches(producer, listener)
    os.close(decoy)
    listener.close()


def test_the_kept_process_id_follows_a_fork():
    from litequeue import pids

    assert pids.current() == os.getpid()
    child = os.fork()
    if child == 0:
        os._exit(0 if pids.current() == os.getpid() else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_busy_producer_looks_for_new_listeners_only_every_few_milliseconds(wakeups):
    from litequeue.store.wakeup import RECHECK_SECONDS

    producer, worker = wakeups
    producer.notify()
    listener = worker.listen("new")
    producer.notify()  # the producer's list is younger than RECHECK_SECONDS: not woken yet
    assert RECHECK_SECONDS > 0 and not woken(listener, timeout=0)
    assert notify_reaches(producer, listener)
    listener.close()


def test_threads_notifying_at_once_while_the_directory_comes_and_goes_leak_nothing(wakeups):
    import threading

    producer, worker = wakeups
    producer.notify()
    fds_before = len(os.listdir("/proc/self/fd"))
    stop = threading.Event()
    errors = []

    def send():
        while not stop.is_set():
            try:
                producer.notify()
            except Exception as exc:  # noqa: BLE001 - any error is the failure
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(20):
        shutil.rmtree(producer.dir, ignore_errors=True)
        time.sleep(0.005)
        worker.listen("again").close()
        time.sleep(0.005)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    producer.notify()
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    listener = worker.listen("last")
    assert notify_reaches(producer, listener)
    listener.close()
