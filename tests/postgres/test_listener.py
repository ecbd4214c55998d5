"""A worker's PostgreSQL wake-ups (``postgres_listener.Listener``) over real connections: NOTIFY
wakes it, draining quiets it, and a dropped connection is replaced without blocking the caller."""

from __future__ import annotations

import os
import select
import signal
import socket
import time

import psycopg2
import pytest

from litequeue import LiteQueue
from litequeue.store import NewJob, postgres_listener
from tests.postgres.conftest import query


def one_job(task_id: str = "job") -> list[NewJob]:
    return [NewJob(task_id=task_id, task="tests.support.tasks.add", queue="celery", routing_key="celery",
                   body=b"[[1,2],{}]", content_type="application/json")]


def readable(listener, timeout: float = 0.05) -> bool:
    return bool(select.select([listener], [], [], timeout)[0])


def turn(listener, timeout: float = 0.05, work: list | None = None) -> bool:
    """One turn of a worker's loop: wait, drain if woken, tend. Whether it was woken; the
    seconds spent in drain and tend are appended to ``work``."""
    woken = readable(listener, timeout)
    started = time.monotonic()
    if woken:
        listener.drain()
    listener.tend()
    if work is not None:
        work.append(time.monotonic() - started)
    return woken


@pytest.fixture
def app(db):
    app = LiteQueue(db)
    yield app
    app.close()


def drop_listen_connections(db: str) -> None:
    query(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %%' "
              "AND pid <> pg_backend_pid() AND datname = current_database()")


def test_a_listener_wakes_on_notify_and_is_quiet_once_drained(app):
    listener = app.store.listener("test")
    try:
        assert not readable(listener)
        assert listener.tend_at is None
        app.store.enqueue(one_job())
        assert readable(listener, 10)
        listener.drain()
        listener.tend()
        assert not readable(listener)
    finally:
        listener.close()


def test_a_listener_whose_connection_dropped_listens_again_on_the_same_descriptor(app, db):
    listener = app.store.listener("test")
    fd = listener.fileno()
    try:
        drop_listen_connections(db)
        deadline = time.monotonic() + 30
        while listener.tend_at is None and time.monotonic() < deadline:  # until it notices the drop
            turn(listener)
        assert listener.tend_at is not None
        while listener.tend_at is not None and time.monotonic() < deadline:  # until it listens again
            turn(listener)
        assert listener.tend_at is None
        assert turn(listener)  # once back, it wakes the worker to catch up on jobs sent meanwhile
        assert not turn(listener)  # and is quiet after that (no busy loop on a dead socket)
        app.store.enqueue(one_job())
        assert readable(listener, 10)
        assert listener.fileno() == fd  # the worker keeps waiting on the same descriptor
    finally:
        listener.close()


def test_a_replacement_that_gets_no_answer_never_blocks_the_worker_and_is_given_up(db, app):
    silent = socket.socket()  # accepts TCP connections on 127.0.0.1 but never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    target = app.store.target
    first = True

    def connect(async_: bool):
        nonlocal first
        host, port_ = (target.host, target.port) if first else ("127.0.0.1", port)
        first = False
        params = {**target.connect_params(), "host": host, "port": port_}
        return psycopg2.connect(dbname=target.dbname, async_=async_, **params)

    listener = postgres_listener.Listener(connect, app.store.channel, (psycopg2.Error,), timeout=1.0)
    try:
        drop_listen_connections(db)
        work: list[float] = []
        deadline = time.monotonic() + 30
        while listener.tend_at is None and time.monotonic() < deadline:  # noticed: the replacement starts
            turn(listener, work=work)
        waiting_until = listener.tend_at
        assert waiting_until is not None and waiting_until > time.monotonic()  # pending, with a deadline
        while time.monotonic() < waiting_until + 0.2:
            turn(listener, work=work)
        assert listener.tend_at is not None and listener.tend_at > waiting_until  # given up; retries later
        assert max(work) < 0.5  # no turn waited for the silent server (a blocking connect would, 1 s)
    finally:
        listener.close()
        silent.close()


def test_a_connection_that_ends_without_a_word_leaves_no_busy_descriptor_behind_a_forked_child(app):
    listener = app.store.listener("test")
    child = os.fork()
    if child == 0:  # like a pool child forked after the listener: it inherits every descriptor
        time.sleep(60)
        os._exit(0)
    try:
        # The connection ends as after a network reset: EOF, no FATAL notice from the server.
        ours = socket.socket(fileno=os.dup(listener._conn.fileno()))
        ours.shutdown(socket.SHUT_RDWR)
        ours.close()
        deadline = time.monotonic() + 30
        while listener.tend_at is None and time.monotonic() < deadline:  # until it notices the loss
            turn(listener)
        while listener.tend_at is not None and time.monotonic() < deadline:  # until it listens again
            turn(listener)
        assert listener.tend_at is None
        turn(listener)  # the wake-up that says it is back
        woken = sum(turn(listener, 0.01) for _ in range(20))
        assert woken == 0  # quiet: no readable ghost of the old socket (the child closed its copies)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        listener.close()
