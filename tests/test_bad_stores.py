"""A database path litequeue must not use: each entry point (``litequeue worker``, ``result``,
``status``, ``call`` and ``app.send_task``) answers with one line naming the path, the problem and the fix,
and the file is left byte-for-byte unchanged (no -wal, -shm or -journal appears beside it)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from litequeue import LiteQueue
from litequeue.errors import ForeignDatabase, SchemaTooNew, StoreCorrupt, StoreError, StoreNotFound
from tests.conftest import ROOT, litequeue_command

SIDE_FILES = ("-wal", "-shm", "-journal")


def litequeue_db(path: Path, jobs: int = 50) -> None:
    """A real litequeue database with some jobs in it, closed cleanly (no -wal left)."""
    app = LiteQueue(path)
    for i in range(jobs):
        app.send_task("tests.support.tasks.add", (i, i))
    app.close()


def not_sqlite(path: Path) -> None:
    path.write_bytes(b"name,value\nthis is a CSV file, not a database\n" * 100)


def truncated(path: Path) -> None:
    litequeue_db(path, jobs=500)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def corrupt(path: Path) -> None:
    litequeue_db(path)
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes((i * 7 + 3) % 256 for i in range(len(data) - 100)))


def foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    conn.execute("INSERT INTO users (email) VALUES ('someone@example.com')")
    conn.commit()
    conn.close()


def too_new(path: Path) -> None:
    litequeue_db(path, jobs=1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE lq_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


BAD_FILES: dict[str, tuple[Callable[[Path], None], type[StoreError], str]] = {
    "not sqlite": (not_sqlite, StoreCorrupt, "not an SQLite database"),
    "truncated": (truncated, StoreCorrupt, "Restore it from a backup"),
    "corrupt": (corrupt, StoreCorrupt, "Restore it from a backup"),
    "foreign tables": (foreign, ForeignDatabase, "share_database=True"),
    "newer schema": (too_new, SchemaTooNew, "Upgrade litequeue"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(litequeue_command() + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


ENTRY_POINTS = {
    "worker": lambda db: run_cli("worker", db, "-A", "tests.support.tasks", "--burst"),
    "result": lambda db: run_cli("result", db, "no-such-id"),
    "status": lambda db: run_cli("status", db),
    "call": lambda db: run_cli("call", db, "tests.support.tasks.add", "--args", "[1, 2]"),
}


def assert_one_line_error(done: subprocess.CompletedProcess, db: str, fix: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert db in lines[0] and fix in lines[0]


def assert_nothing_there_errors(db: str, fix: str) -> None:
    """The commands that would create the database explain why they cannot; ``result`` and
    ``status`` only read, so they say there is no database there."""
    for name, entry in ENTRY_POINTS.items():
        assert_one_line_error(entry(db), db, "No database at" if name in ("result", "status") else fix)


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_refused_clearly_and_left_unchanged(tmp_path, kind):
    make, error, fix = BAD_FILES[kind]
    path = tmp_path / "bad.sqlite"
    make(path)
    before = sha256(path)
    for entry in ENTRY_POINTS.values():
        assert_one_line_error(entry(str(path)), str(path), fix)
    app = LiteQueue(path)
    with pytest.raises(error, match=fix) as raised:
        app.send_task("tests.support.tasks.add", (1, 2))
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
    app.close()
    assert sha256(path) == before
    assert [s for s in SIDE_FILES if os.path.exists(str(path) + s)] == []


def test_foreign_tables_are_shared_only_when_asked(tmp_path):
    path = tmp_path / "shared.sqlite"
    foreign(path)
    app = LiteQueue(path, share_database=True)
    result = app.send_task("tests.support.tasks.add", (1, 2))
    assert result.job_state == "QUEUED"
    app.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT email FROM users").fetchall() == [("someone@example.com",)]
    conn.close()


def test_a_missing_directory_is_named_and_not_created(tmp_path):
    path = tmp_path / "missing" / "app.sqlite"
    assert_nothing_there_errors(str(path), "does not exist")
    with pytest.raises(StoreNotFound, match="does not exist"):
        LiteQueue(path).send_task("tests.support.tasks.add", (1, 2))
    assert not path.parent.exists()


@contextlib.contextmanager
def read_only_directory(path: Path) -> Iterator[Path]:
    """``path`` made unwritable: by its mode, or for root (who ignores modes) by a read-only
    bind mount; skips the test where neither is possible."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    mount = subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip("running as root without permission to mount: cannot make a read-only directory")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_an_unwritable_directory_is_named_and_left_empty(tmp_path):
    with read_only_directory(tmp_path / "readonly") as directory:
        if os.access(directory, os.W_OK):
            pytest.skip("this file system ignores the read-only mount for access checks")
        path = directory / "app.sqlite"
        assert_nothing_there_errors(str(path), "not writable")
        with pytest.raises(StoreNotFound, match="not writable"):
            LiteQueue(path).send_task("tests.support.tasks.add", (1, 2))
        assert os.listdir(directory) == []
