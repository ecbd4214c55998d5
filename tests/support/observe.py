"""Looking at a test's world without trusting litequeue: raw rows, the ledger, processes."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def row(db: str, task_id: str) -> dict[str, Any]:
    """The job's row as stored, read with plain sqlite3."""
    conn = sqlite3.connect(db, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute("SELECT * FROM lq_jobs WHERE task_id = ?", (task_id,)).fetchone()
    finally:
        conn.close()
    assert found is not None, f"no row for {task_id}"
    return dict(found)


def wait_until(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ledger_pids(ledger: Path, key: str) -> list[int]:
    """The pids that wrote ledger entries for ``key`` (one per execution)."""
    return [int((ledger / name).read_text()) for name in sorted(os.listdir(ledger))
            if name.rsplit(".", 1)[0] == key]


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found = []
    for entry in Path(f"/proc/{pid}/task").iterdir():
        text = (entry / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
