"""Opening a store (issue 21, items 5, 11 and 14): reading commands open it read-only and never
create one; anything but a regular file is refused with the right reason; processes opening a new
file at the same moment all succeed."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from litequeue import LiteQueue, monitoring
from litequeue.errors import StoreError, StoreNotFound
from tests.processes.test_core import run_cli
from tests.support import tasks
from tests.test_wake_dir_safety import as_user, local_user

READING_COMMANDS = [["status"], ["status", "--json"], ["inspect", "{db}", "held_back"], ["failed", "{db}"],
                    ["queues", "{db}"]]


def _bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _argv(command: list[str], db: str) -> list[str]:
    argv = [part.format(db=db) for part in command]
    return argv if "{db}" in command else [argv[0], db, *argv[1:]]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: " ".join(c))
def test_a_reading_command_never_creates_a_store(tmp_path, worker_env, command):
    missing = str(tmp_path / "typo.sqlite")
    proc = run_cli(*_argv(command, missing), env=worker_env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "No database at" in proc.stderr
    assert os.listdir(tmp_path) == [name for name in os.listdir(tmp_path) if not name.startswith("typo")]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: " ".join(c))
def test_a_reading_command_leaves_the_database_file_byte_for_byte_unchanged(app, db, worker_env, command):
    tasks.add.delay(1, 2)
    tasks.add.apply_async((3, 4), countdown=3600)
    app.close()
    before = _bytes(db)
    proc = run_cli(*_argv(command, db), "-A", "tests.support.tasks", env=worker_env)
    assert proc.returncode == 0, proc.stderr
    assert _bytes(db) == before


def test_a_readonly_app_reads_and_refuses_to_write_clearly(app, db):
    job = tasks.add.delay(1, 2)
    reader = LiteQueue(db, readonly=True)
    try:
        assert reader.store.get(job.id).state == "QUEUED"
        with pytest.raises(StoreError, match="read-only"):
            reader.send_task("tests.support.tasks.add", args=[1, 1])
    finally:
        reader.close()


def test_status_works_for_an_account_that_may_only_read_the_store():
    reader = local_user("lq-test-victim")  # any second user: here it only reads
    shared = tempfile.mkdtemp(prefix="lq-readonly-")
    try:
        os.chmod(shared, 0o755)
        db = os.path.join(shared, "jobs.sqlite")
        app = LiteQueue(db)
        app.send_task("tests.support.tasks.add", args=[1, 2])
        app.close()
        os.chmod(db, 0o644)  # readable by others; the directory is not writable by them
        before = _bytes(db)
        out = os.path.join(shared, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)  # where the reader leaves what it saw (it may not write beside the store)
        found = Path(out) / "found.json"

        def read_status() -> None:
            data = monitoring.status(LiteQueue(db, readonly=True))
            found.write_text(json.dumps([q["queue"] for q in data["queues"]]))

        as_user(reader, read_status)
        assert json.loads(found.read_text()) == ["celery"]
        assert _bytes(db) == before
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_a_fifo_at_the_database_path_is_refused_without_hanging(tmp_path):
    path = str(tmp_path / "jobs.sqlite")
    os.mkfifo(path)
    for readonly in (False, True):
        with pytest.raises(StoreNotFound, match="is a FIFO"):
            LiteQueue(path, readonly=readonly).store.close()


def test_dev_null_is_refused_as_a_device_not_a_full_disk():
    with pytest.raises(StoreNotFound, match="character device") as caught:
        LiteQueue("/dev/null").store.close()
    assert "disk space" not in caught.value.message


def _open_new(path: str, start: multiprocessing.synchronize.Event, errors: multiprocessing.Queue) -> None:
    start.wait()
    try:
        LiteQueue(path).store.close()
    except Exception as exc:  # noqa: BLE001 - any error is the failure
        errors.put(repr(exc))


def test_processes_opening_a_new_file_at_the_same_moment_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for round_ in range(12):
        path = str(tmp_path / f"new{round_}.sqlite")
        start = context.Event()
        procs = [context.Process(target=_open_new, args=(path, start, errors)) for _ in range(4)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    assert errors.empty(), errors.get()


def test_the_wal_and_shm_of_a_store_file_the_user_made_0644_are_private(tmp_path):
    path = tmp_path / "jobs.sqlite"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    app = LiteQueue(str(path))
    app.send_task("tests.support.tasks.add", args=[1, 2])
    assert {suffix: os.stat(str(path) + suffix).st_mode & 0o777 for suffix in ("-wal", "-shm")} == {
        "-wal": 0o600, "-shm": 0o600}
    app.close()


def test_a_new_store_file_is_private(tmp_path):
    app = LiteQueue(str(tmp_path / "jobs.sqlite"))
    app.send_task("tests.support.tasks.add", args=[1, 2])
    assert {os.stat(str(tmp_path / "jobs.sqlite") + s).st_mode & 0o777 for s in ("", "-wal", "-shm")} == {0o600}
    app.close()


def test_a_worker_process_reopening_a_deleted_file_never_creates_a_new_one(app, db):
    """A pool process opens its own connection after the worker started (an idle worker's claim):
    if the file was deleted meanwhile, a new empty one in its place would hide the loss from the
    worker's file check (which would then say "replaced")."""
    from litequeue.store import open_store

    job = tasks.add.delay(1, 2)
    app.close()
    reopened = open_store(db, app.conf, must_exist=True)
    assert reopened.get(job.id).state == "QUEUED"
    reopened.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    with pytest.raises(StoreNotFound, match="was deleted"):
        open_store(db, app.conf, must_exist=True)
    assert not os.path.exists(db)


def test_a_file_deleted_between_the_check_and_the_open_is_not_created_either(app, db, monkeypatch):
    from litequeue.store import open_store, sqlite

    app.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    for check in ("check_still_there", "check_for_writing"):  # they passed a moment before
        monkeypatch.setattr(sqlite.sqlite_file, check, lambda *args: None)
    with pytest.raises(StoreError):
        open_store(db, app.conf, must_exist=True)
    monkeypatch.undo()
    assert not os.path.exists(db)
