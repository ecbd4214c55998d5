"""A chord survives a worker SIGKILLed in the middle of its header: the members it held run
again after their leases expire, and the callback still runs exactly once, with every result
in header order."""

from __future__ import annotations

import os
import signal
import time

from litequeue import chord
from tests.conftest import ledger_counts
from tests.support import canvas_tasks as ct

MEMBERS = 200


def _done(ledger) -> int:
    return sum(1 for name in os.listdir(ledger) if name.startswith("crash-done-"))


def test_a_200_member_chord_with_a_worker_killed_midway_calls_back_once_with_every_result(
        app, ledger, start_worker):
    r = chord([ct.member.s(i, "crash", 0.02) for i in range(MEMBERS)], ct.collect.s(key="callback"))()
    doomed = start_worker("-c", "2", "-n", "doomed")
    survivor = start_worker("-c", "2", "-n", "survivor")
    deadline = time.monotonic() + 60
    while _done(ledger) < MEMBERS // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its children, mid-chord
    assert r.get(timeout=120) == list(range(MEMBERS))
    survivor.stop()
    counts = ledger_counts(ledger)
    assert counts["callback"] == 1
    workers, rescued = set(), 0
    for i, member in enumerate(r.parent.results):
        job = member.job
        workers.add(job.worker.split("/")[0])
        rescued += any("WorkerLostError" in (h["exc_type"] or "") for h in job.history)
        if counts.get(f"crash-done-{i}", 0) > 1:  # ran to completion twice: only after its lease expired
            assert any("WorkerLostError" in (h["exc_type"] or "") for h in job.history), job.history
    assert workers == {"doomed", "survivor"}
    assert rescued  # the killed worker held members; they ran again after their leases expired
    assert app.store.group_info(r.parent.id)["done"] == MEMBERS


def test_a_member_lost_with_its_worker_past_its_retries_fails_the_chord(app, ledger, start_worker):
    from litequeue import ChordError
    from tests.support import tasks

    r = chord([tasks.add.s(1, 1), tasks.slow_record.s("lost", 60).set(max_retries=0)],
              ct.collect.s(key="never").on_error(ct.on_error.s(key="lost-errback")))()
    doomed = start_worker("-c", "2", "-n", "doomed")
    deadline = time.monotonic() + 60
    while "lost-start" not in ledger_counts(ledger) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(doomed.pid, signal.SIGKILL)
    start_worker("-c", "1", "-n", "rescuer")  # finds the expired lease: no retries left, so FAILURE
    try:
        r.get(timeout=60)
    except ChordError as exc:
        assert "WorkerLostError" in str(exc) and r.parent.results[1].id in str(exc)
    else:
        raise AssertionError("the chord should have failed")
    deadline = time.monotonic() + 30
    while "lost-errback-ChordError" not in ledger_counts(ledger) and time.monotonic() < deadline:
        time.sleep(0.05)
    counts = ledger_counts(ledger)
    assert counts["lost-errback-ChordError"] == 1 and "never" not in counts
