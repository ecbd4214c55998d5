"""A task raising Celery's Ignore: the job ends IGNORED with no outcome of its own, sets nothing
off, and Celery code reads the state the task stored, else PENDING (jobs run in this process with
drain() or eager mode; tests/processes/test_ignore.py runs them through a real worker)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

import pytest
from click.testing import CliRunner

from litequeue import TaskIgnoredError, browse, chain, chord, group, monitoring, signals, states
from litequeue.cli import main
from litequeue.errors import ChordError
from litequeue.testing import drain
from litequeue.worker.expiry import prune_expired
from tests.conftest import ledger_counts
from tests.support import canvas_tasks as ct
from tests.support import ignore_tasks as it
from tests.support import tasks


def test_an_ignored_job_is_over_reads_pending_and_get_raises_at_once(app, ledger):
    r = it.ignored.apply_async(("plain",), link=ct.log_result.s(), link_error=ct.on_error.s())
    drain(app)
    job = r.job
    assert (r.job_state, r.state, r.ready(), r.result) == (states.IGNORED, states.PENDING, False, None)
    assert job.done_at is not None and job.lease_owner is None and job.exc_type is None
    with pytest.raises(TaskIgnoredError, match="raised Ignore, so it has no result"):
        r.get(timeout=0.01)
    assert ledger_counts(ledger) == {"plain": 1}  # not retried, no link, no errback


def test_aget_of_an_ignored_job_raises_at_once_too(app):
    r = it.ignored.delay("async")
    drain(app)
    with pytest.raises(TaskIgnoredError, match=r.id):
        asyncio.run(r.aget(timeout=10))


def test_the_custom_state_stored_before_ignore_is_what_celery_code_reads(app):
    failed = it.ignored.delay("a", "FAILURE", {"exc_type": "ValueError", "why": "bad input"})
    progress = it.ignored.delay("b", "PROGRESS", {"done": 3})
    drain(app)
    assert (failed.state, failed.job_state, failed.info) == (
        states.FAILURE, states.IGNORED, {"exc_type": "ValueError", "why": "bad input"})
    assert failed.ready() and failed.failed()
    assert (progress.state, progress.result) == (states.PROGRESS, {"done": 3})
    with pytest.raises(TaskIgnoredError, match="Its state reads PROGRESS"):
        progress.get()


def test_signals_report_postrun_ignored_and_neither_success_nor_failure(app):
    seen: list[tuple] = []

    def postrun(sender=None, state=None, retval=None, **kw):
        seen.append(("postrun", state, type(retval).__name__))

    def other(sender=None, **kw):
        seen.append(("other",))

    signals.task_postrun.connect(postrun)
    signals.task_success.connect(other)
    signals.task_failure.connect(other)
    try:
        it.ignored.delay("s")
        drain(app)
    finally:
        signals.task_postrun.disconnect(postrun)
        signals.task_success.disconnect(other)
        signals.task_failure.disconnect(other)
    assert seen == [("postrun", states.IGNORED, "Ignore")]


def test_an_ignored_chord_member_fails_the_chord_naming_ignore(app, ledger):
    r = chord([tasks.add.s(1, 1), it.ignored.s("member")], ct.collect.s())()
    drain(app)
    with pytest.raises(ChordError, match="raised Ignore, so it has no result and the chord's callback cannot run"):
        r.get(timeout=10)
    assert "collect" not in ledger_counts(ledger)


def test_an_ignored_group_member_makes_get_raise_and_is_its_value_without_propagate(app):
    r = group(tasks.add.s(1, 1), it.ignored_if.s(-1, "dup"))()
    drain(app)
    assert r.ready()
    with pytest.raises(TaskIgnoredError, match=r.results[1].id):
        r.get(timeout=10)
    two, ignored = r.get(timeout=10, propagate=False)
    assert two == 2 and isinstance(ignored, TaskIgnoredError)


def test_an_ignored_step_stops_its_chain_and_the_last_steps_get_says_why(app, ledger):
    r = chain(it.ignored_if.s(-1, "first"), ct.step.s("second"))()
    drain(app)
    with pytest.raises(TaskIgnoredError, match=r.parent.id):
        r.get(timeout=10)
    assert ledger_counts(ledger) == {"first": 1}


def test_eager_mode_stores_an_ignored_job_as_a_worker_does(app):
    app.conf.task_always_eager = True
    try:
        r = it.ignored.delay("eager", "PROGRESS", {"n": 1})
    finally:
        app.conf.task_always_eager = False
    assert (r.state, r.job_state, r.info) == (states.PROGRESS, states.IGNORED, {"n": 1})


def test_apply_of_an_ignored_task_reads_as_its_stored_job_would(app, ledger):
    r = it.ignored.apply(("apply",))
    assert (r.state, r.job_state, r.ready(), r.result) == (states.PENDING, states.IGNORED, False, None)
    with pytest.raises(TaskIgnoredError, match="raised Ignore"):
        r.get()
    assert ledger_counts(ledger) == {"apply": 1}


def test_ignored_jobs_are_finished_for_status_listing_prune_and_result_expiry(app, db):
    jobs = [it.ignored.delay(k) for k in ("one", "two", "three")]
    drain(app)
    store = app.store
    assert len(store.page_jobs(states.IGNORED, None, None, None, None, None, None, 10)[0]) == 3
    row = monitoring.status(app)["queues"][0]
    assert (row["queued"], row["running"], row["failed"], row["done_last_hour"]) == (0, 0, 0, 3)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:  # finished two days ago
        conn.execute("UPDATE lq_jobs SET done_at = done_at - 2 * 86400")
    assert store.prune(time.time() - 86400, batch=1) == 1  # its default: every finished state
    prune_expired(store, app.conf)  # result_expires: one day
    assert [store.get(r.id) for r in jobs] == [None, None, None]


def test_an_ignored_job_can_be_run_again_and_forgotten(app, ledger):
    r = it.ignored.delay("again", "PROGRESS", {"n": 1})
    drain(app)
    assert app.store.requeue([r.id]) == 1
    assert (r.state, r.info) == (states.PENDING, None)  # waiting again: its custom state is cleared
    drain(app)
    assert ledger_counts(ledger) == {"again": 2}
    r.forget()
    assert r.job is None


def test_the_result_command_and_the_dashboard_show_ignored_and_what_the_task_stored(app, db):
    r = it.ignored.delay("shown", "PROGRESS", {"n": 1})
    drain(app)
    shown = CliRunner().invoke(main, ["result", db, r.id])
    assert "state:    IGNORED" in shown.output and 'reported: PROGRESS {"n": 1}' in shown.output
    detail = browse.job_detail(app, r.job)
    assert (detail["state"], detail["custom_state"], detail["progress"]) == (states.IGNORED, "PROGRESS", {"n": 1})
