"""What an enqueue that returned promises: it is on disk (synchronous=FULL unless asked
otherwise), a producer killed mid-call leaves all or nothing, and a full disk gives a clear error
without corrupting the file or losing a job's outcome."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from litequeue import LiteQueue, states
from litequeue.errors import StoreFull
from tests.conftest import ROOT, integrity_ok
from tests.support import tasks
from tests.support.observe import row, wait_until

SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}

BULK_ENQUEUE = textwrap.dedent("""
    import sys
    from litequeue import LiteQueue
    from litequeue.store import NewJob
    store = LiteQueue(sys.argv[1]).store
    jobs = [NewJob(task_id=f"bulk-{i}", task="tests.support.tasks.add", queue="celery", routing_key="celery",
                   body=b"[[1, 2], {}]" + b" " * 200, content_type="application/json")
            for i in range(int(sys.argv[2]))]
    print("enqueueing", flush=True)
    store.enqueue(jobs)
    print("enqueued", flush=True)
""")


def synchronous_of(app: LiteQueue) -> str:
    return SYNCHRONOUS[app.store.db.execute_sql("PRAGMA synchronous").fetchone()[0]]


def test_enqueues_commit_with_synchronous_full_by_default(tmp_path):
    app = LiteQueue(tmp_path / "full.sqlite")
    try:
        assert synchronous_of(app) == "full"
    finally:
        app.close()


def test_sqlite_synchronous_normal_is_honoured(tmp_path):
    app = LiteQueue(tmp_path / "normal.sqlite", sqlite_synchronous="normal")
    try:
        assert synchronous_of(app) == "normal"
    finally:
        app.close()


def count_rows(db: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM lq_jobs").fetchone()[0]
    finally:
        conn.close()


def test_a_producer_killed_mid_bulk_enqueue_leaves_nothing_half_written(app, db):
    _ = app.store  # the schema exists, so the producer only inserts
    n = 300_000
    producer = subprocess.Popen([sys.executable, "-c", BULK_ENQUEUE, db, str(n)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert producer.stdout.readline().strip() == "enqueueing"
        wal = db + "-wal"
        # Uncommitted pages spill into the WAL while the transaction is open: kill it then.
        wait_until(lambda: os.path.exists(wal) and os.path.getsize(wal) > 2_000_000, timeout=60,
                   what="the bulk insert to be under way")
        producer.send_signal(signal.SIGKILL)
        rest = producer.stdout.read()
    finally:
        producer.wait()
        producer.stdout.close()
    assert producer.returncode == -signal.SIGKILL
    assert "enqueued" not in rest  # it really died inside the call
    assert count_rows(db) in (0, n)
    assert integrity_ok(db)


def test_a_full_database_refuses_an_enqueue_clearly_and_stays_intact(app, db):
    kept = tasks.add.delay(1, 2)
    store = app.store
    pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    store.db.execute_sql(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StoreFull, match="Free disk space") as raised:
        for _ in range(50):
            tasks.record.delay("big", "x" * 100_000)
    assert db in str(raised.value)
    store.db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert kept.job_state == states.QUEUED
    assert tasks.add.delay(3, 4).job_state == states.QUEUED  # usable again once there is room
    assert integrity_ok(db)


def test_a_result_that_cannot_be_written_is_not_marked_done_and_not_lost(app, db, start_worker):
    _ = app.store
    worker = start_worker("-c", "1")
    worker.wait_for_log("ready")
    sizes = [os.path.getsize(p) for p in (db, db + "-wal", worker.log_path) if os.path.exists(p)]
    limit = max(sizes) + 1024 * 1024
    resource.prlimit(worker.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # the worker's "disk" is full
    result = tasks.big_result.delay(4096)  # a 4 MiB result does not fit
    worker.wait_for_log("Could not record 1 outcome")
    assert "disk i/o error" in worker.output().lower()  # the cause, not a failed ROLLBACK after it
    stored = row(db, result.id)
    assert stored["state"] in states.LEASED_STATES and stored["result"] is None  # held, not done
    resource.prlimit(worker.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert result.get(timeout=30) == "x" * 4096 * 1024
    assert row(db, result.id)["attempts"] == 1  # recorded, not run again
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert integrity_ok(db)


def wal_frames(path) -> int:
    """Frames in the WAL, as a second connection's passive checkpoint reports them."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    finally:
        conn.close()


def test_transient_jobs_never_checkpoint_unsynced_and_leave_the_connections_settings_as_they_were(tmp_path):
    """A transient job (durable=False) commits without waiting for the disk. Its commit must not
    checkpoint: a checkpoint made unsynced would move earlier, durable jobs into the database file
    without syncing it, and reuse the WAL that held them. So the WAL grows past the autocheckpoint
    size under transient jobs, and the next durable commit checkpoints as usual."""
    from litequeue.store import NewJob

    path = tmp_path / "transient.sqlite"
    app = LiteQueue(path)
    try:
        conn = app.store.db.connection()
        conn.execute("PRAGMA wal_autocheckpoint = 8")

        def job(i: int, durable: bool) -> NewJob:
            return NewJob(task_id=f"t-{i}", task="tests.support.tasks.add", queue="celery", routing_key="celery",
                          body=b"[[1, 2], {}]" + b" " * 3000, content_type="application/json", durable=durable)

        app.store.enqueue([job(0, True)])
        before = wal_frames(path)
        for i in range(1, 40):
            app.store.enqueue([job(i, False)])
        assert wal_frames(path) >= before + 39  # no checkpoint restarted the WAL
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 8
        assert synchronous_of(app) == "full"
        app.store.enqueue([job(40, True)])
        assert wal_frames(path) < 8  # the durable commit checkpointed, and the WAL started over
    finally:
        app.close()


ONE_ENQUEUE = textwrap.dedent("""
    import os, sys
    from litequeue import LiteQueue
    from litequeue.store import NewJob
    store = LiteQueue(sys.argv[1]).store
    job = NewJob(task_id="j", task="tests.support.tasks.add", queue="celery", routing_key="celery",
                 body=b"[[1, 2], {}]", content_type="application/json")
    os.write(2, b"<enqueue>")
    store.enqueue([job])
    os.write(2, b"</enqueue>")
""")


@pytest.mark.skipif(shutil.which("strace") is None and os.environ.get("CI") != "true", reason="needs strace")
def test_a_durable_enqueue_wakes_workers_before_its_sync_and_returns_only_after_it(tmp_path):
    """The producer's system calls, traced: between the call and its return, the wake-up of the
    listening worker comes first and the sync of the WAL after it, so the worker starts the job
    while the disk works and the call still returns only once the job is on disk."""
    path = tmp_path / "order.sqlite"
    app = LiteQueue(path)
    listener = app.store.listener("probe")
    trace = tmp_path / "trace"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=write,sendto,fsync,fdatasync", "-o", str(trace),
                               sys.executable, "-c", ONE_ENQUEUE, str(path)], env=env, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
        lines = trace.read_text().splitlines()
        begin = next(i for i, line in enumerate(lines) if "<enqueue>" in line)
        end = next(i for i, line in enumerate(lines) if "</enqueue>" in line)
        calls = [line.split()[1].split("(")[0] for line in lines[begin + 1:end]]
        syncs = [i for i, call in enumerate(calls) if call in ("fsync", "fdatasync")]
        assert "sendto" in calls and syncs, calls
        assert calls.index("sendto") < syncs[0], calls  # woken first, synced after
        assert listener.drain()  # the worker was woken
        assert count_rows(str(path)) == 1 and synchronous_of(app) == "full"
    finally:
        listener.close()
        app.close()


def test_the_wal_sync_follows_the_file_sqlite_writes_to(tmp_path):
    """When the last connection closes, SQLite folds the WAL into the database and deletes it; a
    new connection makes another. The sync then opens that one (a descriptor on the old file
    would sync nothing that matters), and a store whose WAL was deleted under it says so."""
    from litequeue.errors import StoreError
    from litequeue.store.wal_sync import WalSync

    path = str(tmp_path / "follow.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (x)")
    sync = WalSync(path)
    sync.sync()
    first = sync.file_id
    conn.close()  # the WAL is checkpointed and removed
    assert not os.path.exists(path + "-wal")
    with pytest.raises(StoreError, match="did not confirm"):
        sync.sync()
    other = sqlite3.connect(path)
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    sync.sync()
    found = os.stat(path + "-wal")
    # the old file, held open by the sync until now, could not lend the new one its inode
    assert sync.file_id == (found.st_dev, found.st_ino) != first
    other.close()
    sync.close()
