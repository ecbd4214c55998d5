"""Ctrl-C in a program running ``with app.worker()``: the first says what it waits for, the
second hands the running jobs back to the queue at once, wherever in the stop it arrives."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from litequeue import states
from litequeue.worker.consumer import Worker
from litequeue.worker.inprocess import CtrlC, InProcessWorker
from litequeue.worker.stopping import StopRequests
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
            # The first Ctrl-C's handler has begun the stop before this line is printed, so the
            # second one is a cold stop wherever it lands from here on.
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


def ctrl_c() -> None:
    """A real SIGINT, to the main thread itself: delivered before this returns (a signal to the
    process may land in another thread, and reach the main thread's handler only later)."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


# What runs in this process between the first Ctrl-C and the wait for the worker's thread.
STOP_PATH = frozenset(f.__code__ for f in (
    InProcessWorker.__exit__, InProcessWorker.stop, InProcessWorker._wait_done, InProcessWorker.running_jobs,
    CtrlC.announce_wait, CtrlC.tell, Worker.request_stop, StopRequests.request))


class CtrlCAtStep:
    """A tracer that sends this process a real SIGINT when the stop path reaches its ``n``-th
    step (a line; inside a stop request, each bytecode instruction: a flag read and written
    back by one line is where a signal can slip in); if the path reaches its wait for the worker
    first, it sends it there (and says so)."""

    def __init__(self, n: int) -> None:
        self.n, self.seen, self.sent_at = n, 0, None

    def __call__(self, frame, event, arg):
        if frame.f_code not in STOP_PATH:
            return None
        frame.f_trace_opcodes = frame.f_code is StopRequests.request.__code__
        return self.step

    def step(self, frame, event, arg):
        if event in ("line", "opcode") and self.sent_at is None:
            waiting = frame.f_code is InProcessWorker._wait_done.__code__
            if self.seen == self.n or waiting:
                self.sent_at = (frame.f_code.co_name, frame.f_lineno, frame.f_lasti, not waiting or self.seen == self.n)
                ctrl_c()
            self.seen += 1
        return self.step


@pytest.fixture
def python_ctrl_c():
    """Python's own Ctrl-C handling (KeyboardInterrupt), as a program starts with, whatever an
    earlier test in this process left installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_anywhere_in_the_stop_hands_the_running_job_back(app, ledger, capsys, python_ctrl_c):
    """Deterministic: the second Ctrl-C is sent at each step of the stop path in turn."""
    n = 0
    while True:
        worker = app.worker(concurrency=1, start_method="fork").start()
        job = tasks.slow_record.delay(key := f"long{n}", 60)
        wait_until(lambda key=key: f"{key}-start" in ledger_counts(ledger), what="the job to start")
        with pytest.raises(KeyboardInterrupt) as first:  # the first Ctrl-C reaches the program
            ctrl_c()
            for _ in range(3000):
                time.sleep(0.01)
        tracer = CtrlCAtStep(n)
        sys.settrace(tracer)
        try:
            worker.__exit__(KeyboardInterrupt, first.value, first.tb)  # what `with` does
        finally:
            sys.settrace(None)
        assert tracer.sent_at is not None
        assert not worker.is_alive()
        stored = app.AsyncResult(job.id).job
        assert (stored.state, stored.attempts) == (states.QUEUED, 0), tracer.sent_at  # handed back, refunded
        assert "handing 1 running job(s) back" in capsys.readouterr().err, tracer.sent_at
        app.store.purge()
        if not tracer.sent_at[3]:  # the n-th step was past the stop path: every step was tried
            break
        n += 1
    assert n > 20  # the path really was walked step by step


def test_a_worker_run_in_a_programs_main_thread_gives_its_signal_handlers_back(app, python_ctrl_c):
    from litequeue.worker.options import WorkerOptions

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    assert Worker(app, WorkerOptions(concurrency=1, burst=True, start_method="fork")).run() == 0
    assert {signum: signal.getsignal(signum) for signum in before} == before
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C is the program's again
        ctrl_c()
        for _ in range(3000):
            time.sleep(0.01)
