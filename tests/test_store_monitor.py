"""The store's reads for watching it (keyset pages, queue depths, finished jobs) and paused
queues, which every claim skips from the moment the pause commits."""

from __future__ import annotations

from litequeue import browse, states
from litequeue.store import Outcome
from tests.support.tasks import app as _support_app  # noqa: E402

DEFAULT = _support_app.conf.task_default_queue  # the queue jobs sent without one go to

OWNER = "w@h/1"


def test_a_paused_queue_is_skipped_by_every_kind_of_claim_until_resumed(app):
    from tests.support.tasks import add

    add.apply_async((1, 1), queue="held")
    add.apply_async((2, 2), queue="free")
    store = app.store
    assert store.pause_queue("held") and not store.pause_queue("held")
    assert [j.queue for j in store.claim(OWNER, ["held", "free"], (), 10, 60)] == ["free"]
    assert store.claim(OWNER, None, (), 10, 60) == []
    assert store.claim(OWNER, ["held"], (), 10, 60) == []
    assert store.paused_queues() == {"held"}
    assert store.resume_queue("held") and not store.resume_queue("held")
    assert [j.queue for j in store.claim(OWNER, None, (), 10, 60)] == ["held"]


def test_pages_walk_newest_first_by_keyset_and_filter(app):
    from tests.support.tasks import add, echo

    app.enqueue_many([(add, (i, i)) for i in range(25)] + [(echo, ("needle-7",))])
    first = browse.job_page(app, browse.JobFilter(), limit=10)
    assert len(first["jobs"]) == 10 and first["jobs"][0]["task"] == "tests.support.tasks.echo"
    seen = [j["id"] for j in first["jobs"]]
    cursor = first["next"]
    while cursor is not None:
        page = browse.job_page(app, browse.JobFilter(), before=cursor, limit=10)
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == 26
    by_task = browse.job_page(app, browse.JobFilter(task="tests.support.tasks.echo"))
    assert [j["task"] for j in by_task["jobs"]] == ["tests.support.tasks.echo"]
    by_text = browse.job_page(app, browse.JobFilter(search="needle-7"))
    assert len(by_text["jobs"]) == 1
    by_id = browse.job_page(app, browse.JobFilter(search=seen[3]))
    assert [j["id"] for j in by_id["jobs"]] == [seen[3]]


def test_failed_page_and_depths_come_from_indexes(app):
    from tests.support.tasks import add

    app.enqueue_many([(add, (i, i)) for i in range(5)])
    add.apply_async((9, 9), countdown=600)
    jobs = app.store.claim(OWNER, [DEFAULT], (), 2, 60)
    app.store.finish(OWNER, [Outcome(jobs[0].id, jobs[0].attempts, states.FAILURE, exc_type="E", exc_message="m")])
    page = browse.job_page(app, browse.JobFilter(state="FAILURE"))
    assert [j["id"] for j in page["jobs"]] == [jobs[0].task_id] and page["next"] is None
    assert page["jobs"][0]["error"] == "E: m"
    depths = app.store.queue_depths()[DEFAULT]
    assert (depths["due"], depths["scheduled"], depths["reserved"], depths["running"], depths["failed"]) == (
        3, 1, 1, 0, 1)  # the claimed job not failed is reserved: nothing began it
    plan = app.store.db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT id FROM lq_jobs WHERE id < 99 AND id >= 0 AND state = 'FAILURE' "
        "ORDER BY id DESC LIMIT 5").fetchall()
    assert any("lq_jobs_failed" in row[-1] for row in plan), plan
