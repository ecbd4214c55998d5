"""The database file is private to its user, and names are data: queue, task and routing-key names
with quotes, SQL or non-ASCII text round-trip through the store and a worker; NUL and over-long
names are refused with a clear message."""

from __future__ import annotations

import contextlib
import os
import stat

import pytest

from litequeue import LiteQueue, states
from litequeue.errors import InvalidOptionError
from tests.conftest import integrity_ok
from tests.support import tasks
from tests.support.observe import row

ODD_NAMES = [
    "it's \"quoted\"",
    "x'); DROP TABLE lq_jobs; --",
    "ünïcødé-名前-🚀",
    "a" * 200,
]


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_the_database_and_its_wal_and_shm_are_private_even_with_a_permissive_umask(tmp_path):
    path = tmp_path / "private.sqlite"
    with umask(0):
        app = LiteQueue(path)
        app.send_task("tests.support.tasks.add", (1, 2))
        try:
            modes = {suffix: stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode) for suffix in ("", "-wal", "-shm")}
        finally:
            app.close()
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_queue_and_routing_key_names_round_trip_through_a_worker(app, db, ledger, run_burst, name):
    result = tasks.record.apply_async(("key", "done"), queue=name, routing_key=name + ".key")
    stored = row(db, result.id)
    assert (stored["queue"], stored["routing_key"]) == (name, name + ".key")
    run_burst("-c", "1", "-Q", name)
    assert result.get(timeout=5) == "done"
    assert integrity_ok(db)


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_task_names_round_trip_through_the_store(app, db, name):
    result = app.send_task(name, (1,), queue="odd")
    assert result.name == name
    assert result.job_state == states.QUEUED
    assert [job.task for job in app.store.list_jobs(task=name)] == [name]


@pytest.mark.parametrize("what", ["queue", "routing_key", "task"])
def test_a_name_over_200_characters_is_refused_clearly(app, db, what):
    long = "q" * 201
    with pytest.raises(InvalidOptionError, match="201 characters long; the limit is 200"):
        if what == "task":
            app.send_task(long)
        else:
            tasks.add.apply_async((1, 2), **{what: long})


@pytest.mark.parametrize("what", ["queue", "routing_key", "task"])
def test_a_name_with_a_nul_character_is_refused_clearly(app, db, what):
    with pytest.raises(InvalidOptionError, match="NUL character"):
        if what == "task":
            app.send_task("bad\x00name")
        else:
            tasks.add.apply_async((1, 2), **{what: "bad\x00name"})
