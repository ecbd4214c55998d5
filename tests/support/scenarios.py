"""Process scenarios run by more than one store tier; each tier passes its own raw-row reader."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litequeue import states
from tests.conftest import ledger_counts
from tests.support import tasks
from tests.support.observe import wait_until


def started(ledger: Path, key: str, n: int = 1) -> Callable[[], bool]:
    """True once ``key`` has started ``n`` times (its ledger has n ``key-start`` files)."""
    return lambda: ledger_counts(ledger).get(f"{key}-start", 0) >= n


def late_completion_is_fenced(db: str, ledger: Path, start_worker: Callable[..., Any],
                              row: Callable[[str, str], dict]) -> None:
    """A worker SIGSTOPped past its lease finishes late: the second worker's attempt owns the
    job and is what the store keeps; the late outcome is ignored (and logged)."""
    first = start_worker("-c", "1", "-n", "first")
    first.wait_for_log("ready")
    result = tasks.attempt_record.delay("job", 1.0)
    wait_until(started(ledger, "job"), what="the first worker to start the job")
    os.killpg(first.pid, signal.SIGSTOP)  # main process and child, past the 3 s lease
    try:
        second = start_worker("-c", "1", "-n", "second")
        value = result.get(timeout=60)
        assert value["hostname"] == "second" and value["attempt"] == 2
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    first.wait_for_log("Ignored 1 late outcome")
    assert ledger_counts(ledger) == {"job-start": 2, "job": 2}  # both attempts ran to the end
    stored = row(db, result.id)
    assert stored["state"] == states.SUCCESS and stored["attempts"] == 2
    assert stored["worker"].startswith("second/")
    assert result.get(timeout=5) == value  # the first attempt's result was not written
    first.signal(signal.SIGTERM)
    second.signal(signal.SIGTERM)
    assert first.wait() == 0 and second.wait() == 0
