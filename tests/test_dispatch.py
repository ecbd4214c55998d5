"""The worker's hand-over of claimed jobs to its pool, and the pool's bookkeeping of jobs that
wait in a child's pipe, checked on the real classes with a stand-in for the child processes."""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from types import SimpleNamespace

import pytest

from litequeue import states
from litequeue.store import Job
from litequeue.worker.consumer import Worker
from litequeue.worker.options import WorkerOptions
from litequeue.worker.pool import Child, Limits, Pool


def job(n: int, expires: float | None = None, body: bytes = b"[[],{}]") -> Job:
    return Job._from_values([
        n, f"task-{n}", "t.add", "default", "default", 0, states.STARTED, body, "application/json", None,
        expires, time.time(), time.time(), None, 1, 3, 1, 0, 1, "w", "w", time.time() + 60, None, None,
        None, None, None, None, None, None, None, time.time()])


class RecordingPool:
    """The pool's interface, recording what it is handed; every child is busy and takes more."""

    def __init__(self) -> None:
        self.children = [object()]
        self.unstarted: list[Job] = []
        self.handed: list[Job] = []

    def idle(self):
        return []

    def busy(self):
        return self.children

    def may_queue(self, child, job, limits):
        return True

    def dispatch(self, child, job, limits):
        self.handed.append(job)
        return True


@pytest.fixture
def worker(tmp_path):
    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "d.sqlite")
    w = Worker(app, WorkerOptions(concurrency=1))
    w.pool = RecordingPool()
    yield w
    w.stop_requests.close()
    app.close()


def test_an_expired_job_ahead_of_a_live_one_is_revoked_and_the_live_one_still_handed_over(worker):
    expired, live = job(1, expires=time.time() - 1), job(2)
    worker.reserved = deque([expired, live])
    worker._dispatch_reserved()
    assert worker.pool.handed == [live]
    assert [(o.job_id, o.state) for o in worker.pending] == [(1, states.REVOKED)]
    assert not worker.reserved


def test_no_claim_is_made_once_the_pool_has_stopped(worker):
    worker.pool.idle = lambda: worker.pool.children  # a child sits idle: a claim is due
    assert worker._claim_room() > 0
    worker.pool.children = []
    assert worker._claim_room() == 0


def test_a_burst_run_is_not_over_while_jobs_of_a_dead_child_wait_to_run_again(tmp_path):
    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "d.sqlite")
    w = Worker(app, WorkerOptions(concurrency=1, burst=True))
    try:
        w.pool = RecordingPool()
        w.pool.busy = lambda: []  # the child that held them has died; its replacement is idle
        w.pool.idle = lambda: w.pool.children
        w._more_waiting, w._next_eta = False, None  # the last claim came back short; nothing waits for an eta
        w.pool.unstarted = [job(1)]
        assert not w._finished()
        assert w._timeout() == 0.0
        w.pool.unstarted = []
        assert w._finished()
    finally:
        w.stop_requests.close()
        app.close()


def test_a_new_worker_looks_for_jobs_once_more_when_every_producer_has_seen_it(worker):
    worker.pool.busy = lambda: worker.pool.children  # nothing else would wake it for a second
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker.pending, worker._next_beat = None, [], time.monotonic() + 100
    assert worker._timeout() == pytest.approx(worker.app.conf.worker_poll_interval, abs=0.05)
    worker._wake = SimpleNamespace(heard_from=time.monotonic() + 0.02, tend_at=None)
    assert 0 < worker._timeout() <= 0.02
    worker._wake = SimpleNamespace(heard_from=time.monotonic() - 1, tend_at=None)
    assert worker._timeout() == pytest.approx(worker.app.conf.worker_poll_interval, abs=0.05)


def test_a_worker_whose_listener_reconnects_wakes_when_the_listener_has_work(worker):
    worker.pool.busy = lambda: worker.pool.children
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker.pending, worker._next_beat = None, [], time.monotonic() + 100
    worker._wake = SimpleNamespace(tend_at=time.monotonic() + 0.03)  # a retry, or a connect deadline
    assert 0 < worker._timeout() <= 0.03
    worker._wake = SimpleNamespace(tend_at=time.monotonic() - 1)  # overdue: at once
    assert worker._timeout() == 0.0


def test_a_worker_finishing_a_long_job_at_a_warm_shutdown_does_not_spin(worker):
    worker.pool.idle = lambda: worker.pool.children  # one child idle, another still running
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker._next_beat = None, time.monotonic() + 100
    worker.reserved = deque([job(1)])
    worker._more_waiting = True
    assert worker._timeout() == 0.0  # running: claim and hand over at once
    worker.stop_requests.request(cold=False)
    assert worker._timeout() > 0.5  # stopping: nothing will be handed over, so sleep


@pytest.fixture
def child_with():
    """child_with(jobs) -> a Child holding ``jobs`` (the first running), over a real pipe."""
    ends = []

    def make(jobs: list[Job]) -> Child:
        parent_end, child_end = multiprocessing.Pipe()
        ends.extend((parent_end, child_end))
        child = Child(SimpleNamespace(pid=0, sentinel=None), parent_end)
        child.in_flight.extend((j, Limits()) for j in jobs)
        return child

    yield make
    for end in ends:
        end.close()


def test_a_kill_meant_for_a_job_that_just_finished_sends_the_jobs_behind_it_elsewhere(child_with):
    pool = Pool(1, ctx=None)
    child = child_with([job(1), job(2), job(3)])
    child.killed_for = "terminated"  # revoked with terminate while job 1 was running
    assert pool._finished_one(child).id == 1  # ... but job 1 replied first
    assert [j.id for j in pool.unstarted] == [2, 3] and not child.in_flight and child.retiring


def test_a_finished_job_lets_the_next_one_in_the_pipe_run_on_its_own_clock(child_with):
    pool = Pool(1, ctx=None)
    child = child_with([job(1), job(2)])
    child.started = 0.0
    assert pool._finished_one(child).id == 1
    assert child.job.id == 2 and child.started > 0 and not pool.unstarted


def test_only_short_small_unlimited_jobs_wait_in_a_pipe(child_with):
    pool = Pool(1, ctx=None, max_tasks_per_child=3)
    child = child_with([job(1)])
    assert not pool.may_queue(child, job(2), Limits())  # no run time seen yet
    pool.note_runtime(0.0001)
    assert pool.may_queue(child, job(2), Limits())
    assert not pool.may_queue(child, job(2), Limits(hard=5.0))
    assert not pool.may_queue(child, job(2, body=b"x" * 9000), Limits())
    child.in_flight.append((job(2), Limits()))
    child.jobs_done = 1
    assert not pool.may_queue(child, job(3), Limits())  # a third would pass max_tasks_per_child
