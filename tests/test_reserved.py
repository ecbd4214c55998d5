"""A job a worker has claimed ahead (prefetched) is RESERVED until a child begins it, and only
then STARTED; reserved jobs are leased, counted and shown apart from running ones, and Celery code
sees them as PENDING."""

from __future__ import annotations

import time

import pytest

from litequeue import LiteQueue, monitoring, states
from litequeue.store import ClaimRequest, Outcome


@pytest.fixture
def app(tmp_path):
    app = LiteQueue(tmp_path / "r.sqlite")

    @app.task(name="t.add")
    def add(x, y):
        return x + y

    yield app
    app.close()


NO_CLAIM = ClaimRequest(None, (), 0, 0.0)


def test_a_claimed_job_is_reserved_and_reads_pending_until_it_is_marked_begun(app):
    result = app.send_task("t.add", args=[1, 2])
    [job] = app.store.claim("w/1", None, (), 1, 30)
    assert app.store.get(result.id).state == states.RESERVED
    assert result.state == states.PENDING  # as Celery reports a reserved task
    began = time.time()
    app.store.finish_and_claim("w/1", [], NO_CLAIM, [(job.id, job.attempts, began)])
    stored = app.store.get(result.id)
    assert stored.state == states.STARTED and stored.started_at == pytest.approx(began)
    assert result.state == states.STARTED


def test_a_reserved_job_takes_its_outcome_directly_with_the_time_it_began(app):
    result = app.send_task("t.add", args=[1, 2])
    [job] = app.store.claim("w/1", None, (), 1, 30)
    outcome = Outcome(job.id, job.attempts, states.SUCCESS, b"3", "application/json", started_at=123.0)
    applied, _ = app.store.finish_and_claim("w/1", [outcome], NO_CLAIM)
    assert applied == [outcome]
    assert result.get(timeout=1) == 3 and app.store.get(result.id).started_at == 123.0


def test_reserved_jobs_are_leased_rescued_and_released_like_running_ones(app):
    ids = [app.send_task("t.add", args=[i, i]).id for i in range(3)]
    jobs = app.store.claim("w/1", None, (), 3, 30)
    app.store.finish_and_claim("w/1", [], NO_CLAIM, [(jobs[0].id, jobs[0].attempts, time.time())])
    assert set(app.store.extend_leases("w/1", 0.01, [j.id for j in jobs]).held) == {j.id for j in jobs}
    time.sleep(0.05)
    assert sorted(state for _, _, state in app.store.rescue_expired()) == [states.QUEUED] * 3
    again = app.store.claim("w/2", None, (), 3, 30)
    assert app.store.release("w/2", [j.id for j in again]) == 3
    assert [app.store.get(i).state for i in ids] == [states.QUEUED] * 3


def test_status_counts_reserved_jobs_apart_and_inspect_lists_them_per_worker(app):
    for i in range(3):
        app.send_task("t.add", args=[i, i])
    first, *_ = app.store.claim("w1@host/abc", None, (), 2, 30)
    app.store.finish_and_claim("w1@host/abc", [], NO_CLAIM, [(first.id, first.attempts, time.time())])
    [queue] = monitoring.status(app)["queues"]
    assert (queue["queued"], queue["reserved"], queue["running"]) == (1, 1, 1)
    reserved = app.control.inspect().reserved()
    assert list(reserved) == ["w1@host"] and len(reserved["w1@host"]) == 1
    assert reserved["w1@host"][0]["state"] == states.RESERVED


def test_revoking_a_reserved_job_flags_it_for_its_worker_without_terminate(app):
    result = app.send_task("t.add", args=[1, 2])
    [job] = app.store.claim("w/1", None, (), 1, 30)
    app.control.revoke([result.id])
    assert app.store.extend_leases("w/1", 30, [job.id]).held == {job.id: True}
