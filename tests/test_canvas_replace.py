"""self.replace(sig) (Celery's Task.replace): the job's result, links, chain and chord place pass
to its replacement (jobs run in this process with drain(); tests/processes/test_replace.py runs
them through a real worker)."""

from __future__ import annotations

import pytest

from litequeue import chain, chord, states
from litequeue.errors import InvalidOptionError, NotInJob
from litequeue.testing import drain
from tests.conftest import ledger_counts
from tests.support import canvas_tasks as ct
from tests.support import tasks


@pytest.mark.parametrize(("kind", "expected"), [
    ("task", 6), ("chain", 60), ("group", [5, 6, 7]), ("chord", 18), ("twice", 6),
])
def test_the_callers_result_yields_the_replacements_result(app, ledger, kind, expected):
    r = ct.replaced_by.delay(5, kind)
    drain(app)
    assert r.get(timeout=10) == expected
    assert r.state == states.SUCCESS and "after-replace" not in ledger_counts(ledger)
    assert app.store.list_jobs([states.REPLACED]) == []  # the last job took the replaced job's row


def test_a_replaced_job_reads_pending_until_its_replacements_last_job_ends(app):
    r = ct.replaced_by.delay(5, "chain")
    drain(app, limit=1)
    assert (r.state, r.job_state, r.ready(), r.result) == (states.PENDING, states.REPLACED, False, None)
    drain(app)
    assert r.get(timeout=10) == 60 and r.name == "tests.support.canvas_tasks.mul"


def test_a_chain_goes_on_with_the_replacements_result(app):
    r = chain(tasks.add.s(1, 1), ct.replaced_by.s(kind="chain"), ct.mul.s(3))()
    drain(app)
    assert r.get(timeout=10) == 90
    assert r.parent.get(timeout=10) == 30


def test_a_chord_callback_receives_the_replacements_result_in_the_members_place(app):
    r = chord([ct.replaced_by.s(1, "group"), tasks.add.s(2, 2), ct.replaced_by.s(0, "chain")], ct.collect.s())()
    drain(app)
    assert r.get(timeout=10) == [[1, 2, 3], 4, 10]
    assert r.parent.get(timeout=10) == [[1, 2, 3], 4, 10]


def test_links_and_errbacks_pass_to_the_replacement(app, ledger):
    ct.replaced_by.apply_async((5, "chain"), link=ct.log_result.s())
    broken = ct.replaced_by.apply_async((5, "failing chain"), link_error=ct.on_error.s())
    drain(app)
    assert ledger_counts(ledger)["link-60"] == 1
    with pytest.raises(ValueError, match="replacement broke"):
        broken.get(timeout=10)
    assert ledger_counts(ledger)["errback-ValueError"] == 1


def test_a_replacement_that_breaks_fails_the_chord_it_stands_in(app):
    r = chord([ct.replaced_by.s(1, "failing chain"), tasks.add.s(2, 2)], ct.xsum.s())()
    drain(app)
    with pytest.raises(Exception, match="replacement broke"):
        r.get(timeout=10)


def test_replace_outside_a_job_or_with_no_signature_says_what_to_do(app):
    with pytest.raises(NotInJob, match="outside a job"):
        ct.replaced_by(5, "task")
    assert ct.replaced_by.apply((5, "task")).get() == 6  # Task.apply(): the replacement runs here too
    with pytest.raises(InvalidOptionError, match="takes a signature"):
        ct.replaced_by.apply((5, "nothing")).get()


def test_eager_mode_runs_the_replacement_at_the_call(app):
    app.conf.task_always_eager = True
    try:
        assert ct.replaced_by.delay(5, "chain").get(timeout=1) == 60
    finally:
        app.conf.task_always_eager = False
