"""SQLAlchemy on a shared SQLite file: jobs sent inside the application's own transaction commit
or roll back with it, no worker sees them before the commit, and workers are woken after it.
A ``delay()`` that would wait for a write lock its own thread holds fails at once instead."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy.orm import Session  # noqa: E402

from litequeue.contrib.sqlalchemy import enqueue_in  # noqa: E402
from litequeue.errors import ConfigurationError, SelfDeadlock  # noqa: E402

metadata = sa.MetaData()
orders = sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("item", sa.String))


@pytest.fixture
def shared(app, db):
    """The support app and an SQLAlchemy engine on the same SQLite file, with the app's table."""
    app.share_database = True
    app.store  # noqa: B018 - litequeue's tables first, then the application's
    engine = sa.create_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    yield app, engine
    engine.dispose()
    app.share_database = False


def only_woken(worker_env: dict) -> None:
    """A worker that looks for jobs only when woken: its poll and its heartbeats (each of which
    also looks) would not come for an hour, far past the tests' timeouts."""
    worker_env.update(LQ_POLL="3600", LQ_HEARTBEAT="3600", LQ_LEASE="7200")


def stored(db: str, task_id: str) -> tuple | None:
    """The job's row as another connection sees it (what a worker would see)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT task, state FROM lq_jobs WHERE task_id = ?", (task_id,)).fetchone()
    finally:
        conn.close()


def test_a_job_sent_in_a_committed_connection_transaction_is_stored_with_the_rows_and_runs(shared, db, run_burst):
    app, engine = shared
    from tests.support.tasks import add

    with engine.begin() as conn:
        conn.execute(orders.insert().values(id=1, item="book"))
        with enqueue_in(conn):
            result = add.delay(2, 3)
        assert stored(db, result.id) is None  # not visible to any other connection before the commit
    assert stored(db, result.id) == ("tests.support.tasks.add", "QUEUED")
    run_burst()
    assert result.get(timeout=10) == 5


def test_a_rolled_back_session_leaves_no_job_and_no_row(shared, db):
    app, engine = shared
    from tests.support.tasks import add

    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        session.execute(orders.insert().values(id=2, item="pen"))
        with enqueue_in(session):
            result = add.delay(1, 1)
            many = app.enqueue_many([(add, (i, i)) for i in range(3)])
        raise RuntimeError("the request failed")
    assert stored(db, result.id) is None and all(stored(db, r.id) is None for r in many)
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders)).fetchall() == []


def test_a_committed_session_stores_every_job_it_sent(shared, db, run_burst):
    app, engine = shared
    from tests.support.tasks import add

    with Session(engine) as session, session.begin():
        session.execute(orders.insert().values(id=3, item="cup"))
        with enqueue_in(session):
            one = add.apply_async((1, 2), countdown=0)
            many = add.starmap([(i, i) for i in range(5)])
    run_burst()
    assert one.get(timeout=10) == 3 and [r.get(timeout=10) for r in many] == [0, 2, 4, 6, 8]


def test_workers_are_woken_after_the_commit(shared, db, start_worker, worker_env):
    app, engine = shared
    from tests.support.tasks import add

    only_woken(worker_env)
    worker = start_worker()
    worker.wait_for_log("ready")
    for use_session in (False, True):
        if use_session:
            with Session(engine) as session, session.begin(), enqueue_in(session):
                result = add.delay(20, 1)
        else:
            with engine.begin() as conn, enqueue_in(conn):
                result = add.delay(20, 2)
        assert result.get(timeout=60) in (21, 22)


def test_a_connection_left_open_and_idle_after_its_commit_wakes_the_workers(shared, db, start_worker, worker_env):
    app, engine = shared
    from tests.support.tasks import add

    only_woken(worker_env)
    worker = start_worker()
    worker.wait_for_log("ready")
    conn = engine.connect()  # kept open, and idle after the commit: never checked in, never begun again
    try:
        with enqueue_in(conn):
            conn.execute(orders.insert().values(id=5, item="kettle"))
            result = add.delay(30, 3)
        assert stored(db, result.id) is None
        conn.commit()
        assert result.get(timeout=60) == 33  # run on a wake-up sent right after the COMMIT
        with enqueue_in(conn):
            second = add.delay(30, 4)  # the next transaction of the same connection wakes them too
        conn.commit()
        assert second.get(timeout=60) == 34
    finally:
        conn.close()


def test_a_store_in_another_database_is_refused_with_the_fix(app, tmp_path):
    from tests.support.tasks import add

    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    with other.begin() as conn, enqueue_in(conn), pytest.raises(ConfigurationError, match="same database"):
        add.delay(1, 2)
    other.dispose()


def test_delay_inside_the_threads_own_sqlalchemy_transaction_fails_at_once_with_the_fix(shared, db):
    app, engine = shared
    app.conf.sqlite_busy_timeout = 30.0
    from tests.support.tasks import add

    try:
        with engine.begin() as conn:
            conn.execute(orders.insert().values(id=4, item="lamp"))  # this thread now holds the write lock
            started = time.monotonic()
            with pytest.raises(SelfDeadlock, match="enqueue_in"):
                add.delay(1, 2)
            waited = time.monotonic() - started
        assert waited < 5  # not the 30 s busy timeout (about 10 ms when the machine is idle)
    finally:
        app.conf.sqlite_busy_timeout = 5.0


@pytest.mark.parametrize("first", ["application", "queue"])
def test_the_first_delay_of_the_process_inside_the_threads_own_transaction_fails_at_once(app, db, first):
    """The usual web app: its tables are made at start-up and the queue is opened by the first
    delay(), which comes inside a request's transaction. Opening the store then waits for the
    application's own lock (a new file: a rollback journal; an existing store: WAL)."""
    from litequeue import LiteQueue
    from tests.support.tasks import add

    if first == "queue":  # a store made earlier (by a worker, another process)
        LiteQueue(db).store.close()
    app.share_database = True
    app.conf.sqlite_busy_timeout = 30.0
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(orders.insert().values(id=9, item="pen"))
            started = time.monotonic()
            with pytest.raises(SelfDeadlock, match="enqueue_in"):
                add.delay(1, 2)
            waited = time.monotonic() - started
        assert waited < 5  # not the 30 s busy timeout
        with Session(engine) as session, session.begin():  # the recipe itself, on the first request
            session.execute(orders.insert().values(id=10, item="ink"))
            with enqueue_in(session):
                if first == "application":  # the store cannot be set up inside it: says to open it first
                    with pytest.raises(SelfDeadlock, match="touch app.store"):
                        add.delay(5, 6)
                else:  # an existing store, opened by the failed call above: the recipe works
                    through = add.delay(5, 6)
        sent = add.delay(3, 4)  # the transaction is over: the store opens and takes the job
        if first == "queue":
            assert app.store.get(through.id).state == "QUEUED"
        assert app.store.get(sent.id).state == "QUEUED"
    finally:
        engine.dispose()
        app.conf.sqlite_busy_timeout = 5.0
        app.share_database = False


def test_opening_the_store_keeps_the_applications_write_lock(app, db):
    """Closing any descriptor of a file drops the POSIX locks its process holds on it: opening
    the store (and refusing, here) must not release the application's write lock, or another
    process could write into the middle of the application's transaction."""
    from litequeue import LiteQueue

    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()
        conn.execute("INSERT INTO notes VALUES ('mine')")  # this process holds the write lock
        with pytest.raises(SelfDeadlock):
            LiteQueue(db, share_database=True).store  # noqa: B018 - opening it is the point
        other = subprocess.run([sys.executable, "-c", OTHER_WRITER, db], capture_output=True, text=True, timeout=60)
        assert other.stdout.strip() == "locked", other.stdout + other.stderr
        conn.commit()
        assert conn.execute("SELECT text FROM notes").fetchall() == [("mine",)]
    finally:
        conn.close()


OTHER_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0)
try:
    conn.execute("INSERT INTO notes VALUES ('theirs')"); conn.commit(); print("written")
except sqlite3.OperationalError as exc:
    print("locked" if "locked" in str(exc) else exc)
"""


def test_delay_inside_the_threads_own_session_transaction_fails_at_once(shared, db):
    app, engine = shared
    app.conf.sqlite_busy_timeout = 30.0
    from tests.support.tasks import add

    try:
        with Session(engine) as session, session.begin():
            session.execute(orders.insert().values(id=6, item="desk"))
            with pytest.raises(SelfDeadlock):
                add.delay(1, 2)
            session.rollback()
    finally:
        app.conf.sqlite_busy_timeout = 5.0


def test_delay_inside_an_open_sqlite3_transaction_of_this_thread_fails_at_once(app, db):
    app.share_database = True
    app.conf.sqlite_busy_timeout = 30.0
    from tests.support.tasks import add

    add.delay(0, 0)  # the store exists
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('x')")  # sqlite3 begins a transaction: the write lock is held
        with pytest.raises(SelfDeadlock):
            add.delay(1, 2)
        conn.rollback()
        assert add.delay(1, 2).id  # free again
    finally:
        conn.close()
        app.conf.sqlite_busy_timeout = 5.0
        app.share_database = False


def test_another_threads_short_transaction_is_waited_for_not_reported(shared, db):
    app, engine = shared
    from tests.support.tasks import add

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(orders.insert().values(id=5, item="mug"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    timer = threading.Timer(0.3, release.set)  # the other thread commits while delay() waits
    timer.start()
    try:
        result = add.delay(4, 4)  # waits for the other thread's commit, then succeeds
    finally:
        release.set()
        thread.join()
        timer.cancel()
    assert stored(db, result.id) == ("tests.support.tasks.add", "QUEUED")


def test_a_unique_job_inside_the_block_is_refused_with_the_fix(shared, db):
    app, engine = shared
    from tests.support.tasks import add

    with engine.begin() as conn, enqueue_in(conn), pytest.raises(ConfigurationError, match="outside the enqueue_in"):
        add.apply_async((1, 2), unique_for=60)


def test_the_check_never_evaluates_lazy_objects_lying_around(app, db, monkeypatch):
    """Django's settings (a lazy object) raise when touched unconfigured; the check must not touch them."""
    django_conf = pytest.importorskip("django.conf")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    lazy = django_conf.LazySettings()  # unconfigured: any attribute access raises
    app.share_database = True
    app.conf.sqlite_busy_timeout = 30.0
    from tests.support.tasks import add

    add.delay(0, 0)
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('x')")
        with pytest.raises(SelfDeadlock):
            add.delay(1, 2)
    finally:
        conn.rollback()
        conn.close()
        app.conf.sqlite_busy_timeout = 5.0
        app.share_database = False
    assert not lazy.configured
