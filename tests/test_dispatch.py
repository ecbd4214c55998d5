"""The worker's hand-over of claimed jobs to its pool, and the pool's bookkeeping of jobs that
wait in a child's pipe, checked on the real classes with a stand-in for the child processes."""

from __future__ import annotations

import multiprocessing
import selectors
import signal
import time
from collections import deque
from types import SimpleNamespace

import pytest

from litequeue import states
from litequeue.store import Job
from litequeue.worker.child import Reply, began
from litequeue.worker.consumer import Worker
from litequeue.worker.options import WorkerOptions
from litequeue.worker.pool import Child, Death, Limits, Pool
from litequeue.worker.wire import Channel, Feed


def job(n: int, expires: float | None = None, body: bytes = b"[[],{}]") -> Job:
    return Job._from_values([
        n, f"task-{n}", "t.add", "celery", "celery", 0, states.STARTED, body, "application/json", None,
        expires, time.time(), time.time(), None, 1, 3, 1, 0, 1, "w", "w", time.time() + 60, None, None,
        None, None, None, None, None, None, None, time.time(), None, None, None])  # ..., parent_id


class RecordingPool:
    """The pool's interface, recording what it is handed; its one child is busy, and the feed
    takes everything."""

    def __init__(self) -> None:
        self.children = [object()]
        self.closed = False
        self.unstarted: list[Job] = []
        self.queued: dict[int, Job] = {}
        self.handed: list[Job] = []
        self.began: list = []
        self.free = lambda: 0
        self.running = lambda: [job(99)]

    def holding(self):
        return len(self.running()) + len(self.queued)

    def lookahead(self):
        return 0

    def submit(self, job, limits):
        self.handed.append(job)
        return True

    def take_back(self):
        return []


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
    worker.pool.free = lambda: 1  # a child sits idle: a claim is due
    assert worker._claim_room() > 0
    worker.pool.closed = True
    assert worker._claim_room() == 0


def test_a_burst_run_is_not_over_while_jobs_of_a_dead_child_wait_to_run_again(tmp_path):
    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "d.sqlite")
    w = Worker(app, WorkerOptions(concurrency=1, burst=True))
    try:
        w.pool = RecordingPool()
        w.pool.running = lambda: []  # the child that held them has died; its replacement is idle
        w.pool.free = lambda: 1
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
    # nothing else would wake it for a second: its child is busy
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker.pending, worker.next_beat = None, [], time.monotonic() + 100
    assert worker._timeout() == pytest.approx(worker.app.conf.worker_poll_interval, abs=0.05)
    worker.listener = SimpleNamespace(heard_from=time.monotonic() + 0.02, tend_at=None)
    assert 0 < worker._timeout() <= 0.02
    worker.listener = SimpleNamespace(heard_from=time.monotonic() - 1, tend_at=None)
    assert worker._timeout() == pytest.approx(worker.app.conf.worker_poll_interval, abs=0.05)


def test_a_worker_whose_listener_reconnects_wakes_when_the_listener_has_work(worker):
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker.pending, worker.next_beat = None, [], time.monotonic() + 100
    worker.listener = SimpleNamespace(tend_at=time.monotonic() + 0.03)  # a retry, or a connect deadline
    assert 0 < worker._timeout() <= 0.03
    worker.listener = SimpleNamespace(tend_at=time.monotonic() - 1)  # overdue: at once
    assert worker._timeout() == 0.0


def test_a_worker_finishing_a_long_job_at_a_warm_shutdown_does_not_spin(worker):
    worker.pool.free = lambda: 1  # one child idle, another still running
    worker.pool.next_deadline = lambda: None
    worker._next_eta, worker.next_beat = None, time.monotonic() + 100
    worker.reserved = deque([job(1)])
    worker._more_waiting = True
    assert worker._timeout() == 0.0  # running: claim and hand over at once
    worker.stop_requests.request(cold=False)
    assert worker._timeout() > 0.5  # stopping: nothing will be handed over, so sleep


@pytest.fixture
def pool():
    """A Pool whose children are stand-ins over real pipes: ``pool.add_child()`` makes one,
    ``say(child, *frames)`` sends what a real child would."""
    p = Pool(2, ctx=None)
    p._replace = lambda child: p.children.remove(child)  # no process to start again
    ends = []

    def add_child() -> Child:
        parent_end, child_end = multiprocessing.Pipe()
        ends.extend((parent_end, child_end))
        child = Child(SimpleNamespace(pid=0, sentinel=object(), join=lambda timeout: None, exitcode=-9), parent_end)
        child.child_end = Channel(child_end)
        p.children.append(child)
        return child

    def queue(*jobs: Job) -> None:
        for j in jobs:
            p.queued[j.id] = (j, Limits())

    p.add_child, p.queue = add_child, queue
    yield p
    for end in ends:
        end.close()


def say(pool: Pool, child: Child, *frames: tuple, died: bool = False) -> list:
    child.child_end.send_all(list(frames))
    ready = ({child.conn} if frames else set()) | ({child.process.sentinel} if died else set())
    return pool.collect(ready)


def reply(j: Job) -> tuple:
    return tuple(Reply(j.id, j.attempts, states.SUCCESS, 0.001))


def test_a_job_runs_on_the_child_that_said_it_began_it_and_is_reported_once_it_replies(pool):
    a, b = pool.add_child(), pool.add_child()
    pool.queue(job(1), job(2))
    assert say(pool, b, began(2)) == []
    assert b.job.id == 2 and a.job is None and list(pool.queued) == [1]
    assert [(j.id for j in pool.running())] and [j.id for j, _ in pool.began] == [2]
    [(done, report)] = say(pool, b, reply(job(2)), began(1))
    assert done.id == 2 and report.state == states.SUCCESS
    assert b.job.id == 1 and not pool.queued and pool.free() == 1


def test_a_kill_meant_for_a_job_that_just_finished_sends_the_job_begun_after_it_elsewhere(pool):
    child = pool.add_child()
    pool.queue(job(1), job(2))
    say(pool, child, began(1))
    child.killed_for, child.kill_target = "terminated", 1  # revoked with terminate while job 1 ran
    reported = say(pool, child, reply(job(1)), began(2), died=True)  # ... but job 1 replied first
    assert [(j.id, r.state) for j, r in reported] == [(1, states.SUCCESS)]
    assert [j.id for j in pool.unstarted] == [2]


def test_a_job_a_child_took_from_the_feed_but_died_before_beginning_is_handed_over_again(pool):
    pool.feed = Feed()
    child, other = pool.add_child(), pool.add_child()
    for j in (job(1), job(2)):
        pool.submit(j, Limits())
    pool.feed.out.take()  # the child took job 1 ...
    assert say(pool, child, died=True) == []  # ... and died before saying so
    pool._audit_at = time.monotonic()  # (an audit follows AUDIT_AFTER seconds later)
    say(pool, other)
    assert [j.id for j in pool.unstarted] == [1, 2] and not pool.queued and pool.feed.take_all() == []
    pool.feed.close()


def test_a_dead_childs_job_is_reported_as_its_death(pool):
    child = pool.add_child()
    pool.queue(job(1))
    [(done, death)] = say(pool, child, began(1), died=True)
    assert done.id == 1 and isinstance(death, Death) and death.reason == "crashed"


@pytest.fixture
def taken(tmp_path, pool):
    """A worker over a pool whose one child (a real process standing in for a pool child) has
    just taken job 1 from the feed and not yet said it began it."""
    import subprocess

    from litequeue import LiteQueue

    app = LiteQueue(tmp_path / "d.sqlite")
    w = Worker(app, WorkerOptions(concurrency=1))
    w.pool = pool
    pool.feed = Feed()
    stand_in = subprocess.Popen(["sleep", "60"])
    child = pool.add_child()
    child.process = SimpleNamespace(pid=stand_in.pid, sentinel=object(), join=lambda timeout: None, exitcode=None)
    child.revoked = multiprocessing.RawValue("q", 0)
    pool.selector.register(child.conn, selectors.EVENT_READ, child.conn)
    pool.submit(job(1), Limits())
    pool.feed.out.take()
    yield w, child, stand_in
    stand_in.kill()
    stand_in.wait()
    pool.feed.close()
    w.stop_requests.close()
    app.close()


def test_a_job_revoked_with_terminate_while_a_child_takes_it_is_killed_as_it_begins(taken):
    worker, child, stand_in = taken
    worker.act_on_revokes({1: True})  # neither running nor in the feed: out of reach for now
    assert stand_in.poll() is None and 1 in worker.pool.queued
    child.child_end.send_all([began(1)])
    worker.wait(5)
    assert stand_in.wait(timeout=30) == -signal.SIGKILL  # killed as it began
    assert child.killed_for == "terminated"


def test_a_job_revoked_while_a_child_takes_it_sees_is_revoked_as_it_begins(taken):
    worker, child, stand_in = taken
    worker.act_on_revokes({1: False})
    assert child.revoked.value == 0
    child.child_end.send_all([began(1)])
    worker.wait(5)
    assert child.revoked.value == 1 and stand_in.poll() is None
