"""SQLite's documented hazards under a running worker (issue 21, items 6 and 10): the database
file deleted, replaced by a rename, or its -wal deleted; a corrupt file. The worker stops with a
non-zero exit and one clear error instead of losing work silently or logging forever."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support import tasks


def _ready(worker) -> None:
    worker.wait_for_log("ready")


@pytest.mark.parametrize("hazard", ["deleted", "replaced", "wal deleted"])
def test_a_worker_stops_when_its_database_file_is_deleted_or_replaced(app, db, start_worker, tmp_path, hazard):
    tasks.add.delay(1, 2)
    worker = start_worker("-c", "1")
    _ready(worker)
    if hazard == "deleted":
        os.remove(db)
    elif hazard == "replaced":
        shutil.copy(db, tmp_path / "copy.sqlite")
        os.replace(tmp_path / "copy.sqlite", db)
    else:
        os.remove(db + "-wal")
    assert worker.wait(30) == 1
    output = worker.output()
    expected = {"deleted": "was deleted", "replaced": "was replaced", "wal deleted": "-wal"}[hazard]
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and expected in errors[0] and "Stop every process" in errors[0]


def _corrupt(db: str) -> None:
    """Overwrite every page but the first (the schema stays readable, the data does not)."""
    size = os.path.getsize(db)
    with open(db, "r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * (size - 4096))


def _filled_store(app, db: str) -> None:
    for n in range(300):
        tasks.add.delay(n, n)
    app.store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    app.close()


@pytest.mark.parametrize("burst", [True, False], ids=["burst", "long-running"])
def test_a_corrupt_database_stops_a_worker_with_one_error_and_a_failing_exit(app, db, start_worker, burst):
    _filled_store(app, db)
    _corrupt(db)
    worker = start_worker("-c", "1", *(["--burst"] if burst else []))
    assert worker.wait(30) != 0
    output = worker.output()
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "ERROR" in line or line.startswith("Error:")]
    assert len(errors) == 1 and ("malformed" in errors[0] or "corrupt" in errors[0])
