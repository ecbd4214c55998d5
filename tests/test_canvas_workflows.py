"""chain, group, chord and the bulk signatures as values and as sent: composition, JSON round
trips, options, results, eager mode and clear errors (jobs run in this process with drain())."""

from __future__ import annotations

import json

import pytest

from litequeue import GroupResult, ResultSet, Signature, chain, chord, chunks, group, signature, xmap, xstarmap
from litequeue.errors import InvalidOptionError
from litequeue.testing import drain
from tests.support import canvas_tasks as ct
from tests.support import tasks


def test_the_pipe_composes_as_in_celery(app):
    assert isinstance(tasks.add.s(1, 1) | ct.mul.s(2), chain)
    assert isinstance(group(tasks.add.s(1, 1)) | ct.xsum.s(), chord)
    flat = tasks.add.s(1, 1) | ct.mul.s(2) | ct.mul.s(3)
    assert isinstance(flat, chain) and len(flat.tasks) == 3
    assert isinstance(chord([tasks.add.s(1, 1)], ct.xsum.s()) | ct.mul.s(2), chain)


def test_workflows_round_trip_through_json_and_still_run(app):
    wf = chain(tasks.add.s(1, 1), group(tasks.add.s(1), tasks.add.s(2)), ct.xsum.s())
    back = signature(json.loads(json.dumps(wf)), app=app)
    assert isinstance(back, chain) and back == wf
    c = chord([tasks.add.s(i, i) for i in range(3)], ct.xsum.s())
    assert isinstance(signature(json.loads(json.dumps(c))), chord)
    r = back.apply_async()
    drain(app)
    assert r.get(timeout=10) == 7


def test_options_of_a_chain_reach_every_step_and_countdown_only_the_first(app):
    r = chain(tasks.add.s(1, 1), ct.mul.s(2)).apply_async(queue="wf", countdown=0, priority=7)
    first = app.store.list_jobs(queue="wf")
    assert len(first) == 1 and first[0].priority == 7
    drain(app)
    assert r.get(timeout=10) == 4
    assert app.store.get(r.id).queue == "wf" and app.store.get(r.id).priority == 7


def test_bulk_signatures_send_one_job_each_and_chunks_make_a_group(app):
    m = xmap(ct.xsum.s(), [[1, 2], [3, 4]])
    s = xstarmap(tasks.add.s(), [(1, 1), (2, 2)])
    assert m() == [3, 7] and s() == [2, 4]  # run here
    rm, rs = m.delay(), s.delay()
    ch = chunks(tasks.add.s(), [(i, i) for i in range(5)], 2)
    assert ch() == [[0, 2], [4, 6], [8]]
    g = ch.apply_async()
    assert isinstance(g, GroupResult) and len(g) == 3
    summed = chord(ch.group(), ct.collect.s(key="chunks"))()
    drain(app)
    assert rm.get(timeout=10) == [3, 7] and rs.get(timeout=10) == [2, 4]
    assert g.get(timeout=10) == [[0, 2], [4, 6], [8]]
    assert summed.get(timeout=10) == [[0, 2], [4, 6], [8]]
    assert isinstance(tasks.add.starmap([(1, 1)]), list)  # the task methods still send at once


def test_a_group_result_made_by_hand_is_saved_restored_and_deleted(app):
    results = [tasks.add.delay(i, 1) for i in range(3)]
    g = GroupResult("my-group", results, app=app).save()
    drain(app)
    again = GroupResult.restore("my-group", app=app)
    assert again.get(timeout=10) == [1, 2, 3] and again.completed_count() == 3
    assert ResultSet(results, app=app).get(timeout=10) == [1, 2, 3]
    g.delete()
    assert GroupResult.restore("my-group", app=app) is None


def test_eager_mode_runs_a_whole_workflow_at_once(app):
    app.conf.task_always_eager = True
    try:
        assert chain(tasks.add.s(2, 2), ct.mul.s(3))().get(timeout=1) == 12
        assert chord([tasks.add.s(1, 1), tasks.add.s(2, 2)], ct.xsum.s())().get(timeout=1) == 6
    finally:
        app.conf.task_always_eager = False


def test_inverting_a_signature_sends_it_and_waits_for_its_result(app, start_worker):
    start_worker("-c", "2")
    assert ~tasks.add.s(2, 2) == 4
    assert ~chain(tasks.add.s(2, 2), ct.mul.s(3)) == 12
    assert ~group(tasks.add.s(1, 1), tasks.add.s(2, 2)) == [2, 4]
    assert ~chord([tasks.add.s(1, 1), tasks.add.s(2, 2)], ct.xsum.s()) == 6
    assert ~xstarmap(tasks.add.s(), [(1, 1), (2, 2)]) == [2, 4]


def test_inverting_a_signature_in_eager_mode_runs_it_at_once(app):
    app.conf.task_always_eager = True
    try:
        assert ~tasks.add.s(2, 2) == 4
        assert ~chain(tasks.add.s(2, 2), ct.mul.s(3)) == 12
    finally:
        app.conf.task_always_eager = False


def test_bad_workflows_fail_at_the_call_and_send_nothing(app):
    with pytest.raises(InvalidOptionError, match="empty chain"):
        chain()()
    with pytest.raises(InvalidOptionError, match="needs a body"):
        chord([tasks.add.s(1, 1)]).apply_async()
    with pytest.raises(InvalidOptionError, match="signature"):
        tasks.add.apply_async((1, 1), link="not a signature")
    with pytest.raises(InvalidOptionError, match="takes signatures"):
        group([1, 2])
    assert sum(app.store.counts().values()) == 0


def test_an_empty_chord_header_calls_back_at_once_with_an_empty_list(app):
    r = chord([], ct.collect.s(key="empty"))()
    drain(app)
    assert r.get(timeout=10) == []


def test_a_signature_freezes_to_the_id_its_workflow_uses(app):
    s = tasks.add.s(1, 1)
    frozen = s.freeze()
    r = (s | ct.mul.s(2))()
    assert r.parent.id == frozen.id
    drain(app)
    assert frozen.get(timeout=10) == 2 and isinstance(s, Signature)


def test_a_links_options_are_checked_at_the_call(app):
    with pytest.raises(InvalidOptionError, match="priority must be an integer"):
        tasks.add.apply_async((1, 1), link=ct.log_result.s().set(priority="high"))
    assert sum(app.store.counts().values()) == 0


def test_a_link_that_cannot_be_sent_is_logged_and_the_chord_still_completes(app, caplog):
    limit, app.conf.task_max_payload_bytes = app.conf.task_max_payload_bytes, 3000
    try:
        member = tasks.big_result.s(1)  # a 1 KiB result
        member.link(ct.collect.s("y" * 2500))  # with that result, over the limit: refused when sent
        r = chord([member, tasks.echo.s("z")], ct.collect.s(key="big"))()
        drain(app)
        assert r.get(timeout=10) == ["x" * 1024, "z"]
    finally:
        app.conf.task_max_payload_bytes = limit
    assert "its link cannot be sent" in caplog.text and "task_max_payload_bytes" in caplog.text


def _record(app, store, jobs, values, owner="w1"):
    """Record these member jobs as succeeded with these values, through ``store``."""
    from litequeue import serialization
    from litequeue.canvas.followups import with_follow_ups
    from litequeue.store import Outcome

    outcomes = [with_follow_ups(app, job, Outcome(job.id, job.attempts, "SUCCESS", serialization.dumps(value),
                                                  "application/json")) for job, value in zip(jobs, values, strict=True)]
    return store.finish(owner, outcomes)


@pytest.mark.parametrize("recorded_here", [3, 1], ids=["half recorded here", "one recorded here"])
def test_a_join_gets_every_members_result_in_order_whichever_process_recorded_them(app, db, recorded_here):
    """The store recording a chord's last member takes the results it recorded itself from
    memory and reads the others' (two stores here stand for two workers); an outcome its fence
    refused never reaches the callback."""
    from litequeue import LiteQueue, serialization
    from litequeue.store import Outcome

    c = chord([tasks.add.s(i, i) for i in range(6)], ct.collect.s())()
    here = app.store
    jobs = sorted(here.claim("w1", None, (), 6, 60), key=lambda j: j.options["group_index"])
    elsewhere = LiteQueue(db)
    try:
        first = 6 - recorded_here
        assert len(_record(app, elsewhere.store, jobs[:first], [i * 2 for i in range(first)])) == first
    finally:
        elsewhere.close()
    stale = Outcome(jobs[first].id, jobs[first].attempts + 1, "SUCCESS", serialization.dumps(999), "application/json")
    assert here.finish("w1", [stale]) == []  # refused by its fence: its value must never be used
    assert len(_record(app, here, jobs[first:], [i * 2 for i in range(first, 6)])) == recorded_here
    assert app.store.group_info(c.parent.id)["state"] == "FIRED"
    drain(app)
    assert c.get(timeout=10) == [0, 2, 4, 6, 8, 10]
