"""Ctrl-C in a program running ``with app.worker()``: the first says what it waits for, the
second hands the running jobs back to the queue at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from litequeue import states
from tests.conftest import ROOT, ledger_counts
from tests.processes.test_operations import wait_until
from tests.support import tasks

PROGRAM = textwrap.dedent("""
    import time
    from tests.support import tasks

    with tasks.app.worker(pool="threads", concurrency=1):
        tasks.slow_record.delay("long", 60)
        while True:
            time.sleep(0.05)
""")


def test_a_second_ctrl_c_hands_the_running_job_back(app, db, ledger, worker_env, tmp_path):
    err_path = tmp_path / "stderr"
    with open(err_path, "w") as err_file:
        program = subprocess.Popen([sys.executable, "-c", PROGRAM], cwd=ROOT, env=worker_env,
                                   stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            wait_until(lambda: "long-start" in ledger_counts(ledger), what="the job to start")
            program.send_signal(signal.SIGINT)
            wait_until(lambda: "Ctrl-C again" in err_path.read_text(), timeout=10,
                       what="the first Ctrl-C to be answered")
            program.send_signal(signal.SIGINT)
            program.wait(30)
        finally:
            if program.poll() is None:
                program.kill()
                program.wait()
    err = err_path.read_text()
    assert "waiting for 1 running job(s) (Ctrl-C again to hand them back)" in err, err
    assert "handing 1 running job(s) back" in err, err
    [job] = app.store.list_jobs([states.QUEUED], limit=10)
    assert job.task == tasks.slow_record.name and job.attempts == 0  # handed back, the attempt refunded
