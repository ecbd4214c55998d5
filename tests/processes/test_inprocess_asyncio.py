"""An in-process worker inside ``asyncio.run(...)``: a program whose main thread runs an event
loop (with its self-pipe, and a signal wake-up fd when it handles signals) starts
``app.worker()``; the worker's children must run the jobs, once each, whatever pool and start
method. Real programs in subprocesses: the event loop and its signal handling are the program's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from litequeue import states
from tests.conftest import ROOT, ledger_counts

PROGRAM = textwrap.dedent("""
    import asyncio, signal, sys
    from tests.support import tasks

    async def main(pool, start_method):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: None)  # the loop owns the signal wake-up fd
        options = {"start_method": start_method} if start_method else {}
        with tasks.app.worker(pool=pool, concurrency=2, max_tasks_per_child=3 if pool == "prefork" else None,
                              **options):
            results = [await tasks.record.adelay(f"job{i}", i) for i in range(12)]
            results.append(await tasks.async_double.adelay(21))
            print([await r.aget(timeout=60) for r in results])

    asyncio.run(main(sys.argv[1], sys.argv[2] or None))
""")


@pytest.mark.parametrize(("pool", "start_method"), [("prefork", ""), ("prefork", "fork"), ("threads", "")])
def test_an_in_process_worker_inside_asyncio_run_runs_every_job_once(app, ledger, worker_env, pool, start_method):
    done = subprocess.run([sys.executable, "-c", PROGRAM, pool, start_method], cwd=ROOT, env=worker_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "WorkerLostError" not in done.stderr and "exited with code" not in done.stderr, done.stderr
    assert ledger_counts(ledger) == {f"job{i}": 1 for i in range(12)}
    jobs = app.store.list_jobs([states.SUCCESS], limit=100)
    assert len(jobs) == 13 and all(job.attempts == 1 for job in jobs)  # none ran again after a lost child
    assert "42]" in done.stdout
