"""Many writers on one SQLite file: producers and workers at once, and another program holding
SQLite's write lock. litequeue waits instead of failing; past sqlite_busy_timeout it says which
setting to raise, and a worker carries on.

The full-size run (8 producers x 5,000 jobs) is ``python scripts/chaos.py contention``."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from litequeue import states
from litequeue.errors import StoreLocked
from tests.conftest import ROOT, integrity_ok, ledger_counts
from tests.support import tasks
from tests.support.observe import wait_until

PRODUCERS, JOBS_EACH = 8, 500

PRODUCE = textwrap.dedent("""
    import sys
    from tests.support.tasks import record
    producer, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        record.delay(f"{producer}-{i}")
    print("produced", n)
""")

HOLD_LOCK = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
""")


def count_states(db: str) -> dict[str, int]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT state, COUNT(*) FROM lq_jobs GROUP BY state").fetchall())
    finally:
        conn.close()


@contextlib.contextmanager
def hold_write_lock(db: str, seconds: float) -> Iterator[subprocess.Popen]:
    """Another program that takes SQLite's write lock and keeps it for ``seconds`` (killed on
    leaving the block if it still holds it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db, str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_concurrent_producers_and_workers_run_every_job_exactly_once(app, db, ledger, worker_env, start_worker):
    # Exactly once holds while no lease expires; the test app's 3 s lease is shorter than a write
    # may wait for the lock on a loaded machine, so this test uses a real-world lease.
    worker_env.update(LQ_LEASE="30", LQ_HEARTBEAT="1")
    _ = app.store  # create the schema before the crowd arrives
    workers = [start_worker("-c", "2", "-n", f"w{i}") for i in range(2)]
    producers = [subprocess.Popen([sys.executable, "-c", PRODUCE, f"p{k}", str(JOBS_EACH)], cwd=ROOT,
                                  env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for k in range(PRODUCERS)]
    outputs = [p.communicate(timeout=100)[0] for p in producers]
    assert all(p.returncode == 0 for p in producers), outputs
    total = PRODUCERS * JOBS_EACH
    wait_until(lambda: count_states(db).get(states.SUCCESS) == total, timeout=100, what="every job to succeed")
    for w in workers:
        w.signal(signal.SIGTERM)
        assert w.wait() == 0
    counts = ledger_counts(ledger)
    assert len(counts) == total and set(counts.values()) == {1}
    assert count_states(db) == {states.SUCCESS: total}
    for text in outputs + [w.output() for w in workers]:
        assert "locked" not in text.lower()
    assert integrity_ok(db)


def test_enqueue_waits_for_another_program_holding_the_write_lock(app, db):
    _ = app.store  # open (and create) the database first
    with hold_write_lock(db, 1.5) as holder:
        result = tasks.add.delay(2, 3)  # waits out the lock (sqlite_busy_timeout is 5 s)
        assert holder.wait(10) == 0
    assert result.job_state == states.QUEUED
    assert integrity_ok(db)


def test_a_lock_held_past_the_busy_timeout_raises_store_locked_naming_the_setting(app, db, monkeypatch):
    monkeypatch.setattr(app.conf, "sqlite_busy_timeout", 0.2)
    _ = app.store  # open (and create) the database first
    with hold_write_lock(db, 30), pytest.raises(StoreLocked, match="sqlite_busy_timeout") as raised:
        tasks.add.apply_async((2, 3), retry=False)
    assert db in str(raised.value)
    assert count_states(db) == {}  # nothing half-written
    assert integrity_ok(db)


def test_a_worker_facing_a_held_lock_warns_and_carries_on(app, db, ledger, worker_env, start_worker):
    worker_env["LQ_BUSY_TIMEOUT"] = "0.2"
    _ = app.store  # open (and create) the database first
    results = [tasks.attempt_record.delay(f"job{i}", 0.3) for i in range(4)]
    worker = start_worker("-c", "2")
    wait_until(lambda: ledger_counts(ledger).get("job0-start"), what="the worker to start a job")
    with hold_write_lock(db, 2.0) as holder:  # outcomes, heartbeats and claims all meet the lock
        worker.wait_for_log("sqlite_busy_timeout")
        assert holder.wait(10) == 0
    assert [r.get(timeout=30)["attempt"] for r in results] == [1, 1, 1, 1]
    assert worker.proc.poll() is None  # still running
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert "Traceback" not in worker.output()
    assert ledger_counts(ledger) == {**{f"job{i}-start": 1 for i in range(4)}, **{f"job{i}": 1 for i in range(4)}}
    assert integrity_ok(db)
