"""Starts a rate limit granted to jobs a worker then put back without beginning them (a stop's
release, or a claim whose pool process died before beginning it): they are given back, so under
"1/h" the job need not wait an hour for its next claim; a job that may have begun keeps its start
counted, and a start is never given back once a later one was granted."""

from __future__ import annotations

import time

from litequeue import states
from litequeue.store.flow import RATE_AHEAD
from tests.support.flow_tasks import hourly, rated
from tests.test_flow import claim, declare


def _declare(flow_app) -> None:
    """The limits declared as a worker starts, a moment before the claims (a start granted right
    after its bucket's rate was set is never given back: see store/flow.py)."""
    declare(flow_app)
    time.sleep(RATE_AHEAD + 0.01)


def _claim_one(flow_app):
    [job] = claim(flow_app, limited_room=1)
    assert job.granted_at is not None
    return job


def test_a_stop_releasing_a_job_it_never_began_gives_its_start_back(flow_app):
    _declare(flow_app)
    sent = hourly.delay("released")
    job = _claim_one(flow_app)
    assert flow_app.store.release("w1", [job.id], unbegun=True) == 1
    assert sent.job_state == states.QUEUED and sent.job.attempts == 0
    again = _claim_one(flow_app)  # at once, not an hour later
    assert again.task_id == sent.id and again.granted_at - job.granted_at < 60
    hourly.delay("next")
    assert claim(flow_app, limited_room=1) == []  # the hour runs from the start given again


def test_a_job_that_may_have_begun_keeps_its_start_counted(flow_app):
    _declare(flow_app)
    sent = hourly.delay("maybe-begun")
    job = _claim_one(flow_app)
    assert flow_app.store.release("w1", [job.id]) == 1  # a cold stop: its child may have begun it
    assert sent.job_state == states.QUEUED
    assert claim(flow_app, limited_room=1) == []


def test_a_claim_whose_pool_process_died_before_beginning_it_gives_its_start_back(flow_app):
    _declare(flow_app)
    sent = hourly.delay("orphan")
    armed_at = flow_app.store.lease_clock()
    _claim_one(flow_app)
    assert flow_app.store.release_unreported("w1", armed_at, 30, []) == [(sent.id, hourly.name)]
    assert _claim_one(flow_app).task_id == sent.id


def test_a_start_is_kept_when_a_later_one_was_granted_after_it(flow_app):
    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "2/s")  # one start every 0.51 s
    time.sleep(RATE_AHEAD + 0.01)
    first, second = rated.delay("first"), rated.delay("second")
    early = _claim_one(flow_app)
    time.sleep(max(early.granted_at + 0.52 - time.time(), 0))
    late = _claim_one(flow_app)
    assert late.granted_at > early.granted_at and {early.task_id, late.task_id} == {first.id, second.id}
    flow_app.store.release("w1", [early.id], unbegun=True)
    assert claim(flow_app, limited_room=1) == []  # the bucket waits an interval after the later start


def test_a_start_granted_before_the_rate_changed_is_kept(flow_app):
    """Two starts granted under "2/s", the second begun; the rate is then slowed to "1/m". Giving
    the first back would let it start within a minute of the second: it is kept."""
    declare(flow_app)
    flow_app.control.rate_limit(rated.name, "2/s")
    time.sleep(RATE_AHEAD + 0.01)
    rated.delay("first"), rated.delay("second")
    early = _claim_one(flow_app)
    time.sleep(max(early.granted_at + 0.52 - time.time(), 0))
    _claim_one(flow_app)  # and begun: its start stands
    flow_app.control.rate_limit(rated.name, "1/m")
    flow_app.store.release("w1", [early.id], unbegun=True)
    assert claim(flow_app, limited_room=1) == []


def test_a_warm_stop_gives_back_the_start_of_a_job_it_had_claimed_ahead(flow_app):
    """The worker's own stop path (its pool stood in for): the job it had claimed ahead and not
    begun goes back with its start, so the next worker claims it at once."""
    from collections import deque

    from litequeue.worker import lifecycle
    from litequeue.worker.consumer import Worker
    from litequeue.worker.options import WorkerOptions
    from tests.test_dispatch import RecordingPool

    _declare(flow_app)
    sent = hourly.delay("claimed-ahead")
    worker = Worker(flow_app, WorkerOptions(concurrency=1))
    try:
        worker.pool = RecordingPool()
        [job] = flow_app.store.claim(worker.owner, None, (), 1, 30, None, 1)
        worker.reserved = deque([job])
        worker.stop_requests.request()
        lifecycle.on_stop_request(worker)
    finally:
        worker.stop_requests.close()
    assert sent.job_state == states.QUEUED and sent.job.attempts == 0
    assert _claim_one(flow_app).task_id == sent.id
