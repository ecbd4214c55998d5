"""Truthful states from a real worker: jobs it claimed ahead are RESERVED (PENDING to Celery code)
until a child begins them, shown apart from running ones, and revoking one means it never runs."""

from __future__ import annotations

import json

from litequeue import states
from tests.conftest import ledger_counts
from tests.processes.test_operations import run_cli, wait_until
from tests.support import tasks


def test_jobs_claimed_behind_a_running_one_are_reserved_and_a_revoked_one_never_runs(
        app, db, ledger, worker_env, start_worker, tmp_path):
    gate = tmp_path / "gate"
    long = tasks.until_file.delay("long", str(gate))
    behind = [tasks.record.delay(f"r{i}") for i in range(3)]
    worker = start_worker("-c", "1")
    wait_until(lambda: "long-start" in ledger_counts(ledger), what="the long job to start")
    wait_until(lambda: long.state == states.STARTED, what="the long job to be marked STARTED")
    assert [app.store.get(r.id).state for r in behind] == [states.RESERVED] * 3
    assert {r.state for r in behind} == {states.PENDING}  # as Celery reports reserved tasks

    status = json.loads(run_cli("status", db, "--json", env=worker_env).stdout)
    [queue] = status["queues"]
    assert (queue["queued"], queue["reserved"], queue["running"]) == (0, 3, 1)
    reserved = json.loads(run_cli("inspect", db, "reserved", "--json", env=worker_env).stdout)
    assert sorted(j["id"] for jobs in reserved.values() for j in jobs) == sorted(r.id for r in behind)
    purge = run_cli("purge", db, "-f", env=worker_env)
    assert "3 job(s) in every queue are reserved" in purge.stdout and "No waiting jobs" in purge.stdout

    revoked = run_cli("revoke", db, behind[0].id, env=worker_env)
    assert "reserved by a worker" in revoked.stdout
    wait_until(lambda: behind[0].state == states.REVOKED, what="the reserved job to be recorded revoked")
    gate.touch()  # the long job ends: the others run
    wait_until(lambda: all(r.state in states.READY_STATES for r in [long, *behind]), timeout=60,
               what="every job to end")
    assert behind[0].state == states.REVOKED
    assert ledger_counts(ledger) == {"long-start": 1, "long": 1, "r1": 1, "r2": 1}
    assert worker.proc.poll() is None
