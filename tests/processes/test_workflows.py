"""Workflows (Celery's canvas) through real workers: every line of the issue's example, and
each failure rule. The join of a chord is a counter moved in the transaction recording each
member's outcome, so callbacks run exactly once with every result in header order."""

from __future__ import annotations

import threading
import time

import pytest

from litequeue import ChordError, GroupResult, chain, chord, group, signature, states
from litequeue.errors import TaskRevokedError
from tests.conftest import ledger_counts
from tests.support import canvas_tasks as ct
from tests.support import tasks


def test_a_chain_passes_each_result_on_and_knows_its_parent(app, run_burst):
    r = (tasks.add.s(4, 4) | ct.mul.s(8))()
    r2 = chain(tasks.add.s(2, 2), tasks.add.s(4), tasks.add.s(8))()
    run_burst()
    assert r.get(timeout=30) == 64
    assert r.parent.get(timeout=30) == 8
    assert r2.get(timeout=30) == 16
    assert r2.parent.parent.get(timeout=30) == 4


def test_a_result_read_back_by_id_knows_its_parent_and_its_children(app, run_burst):
    r = (tasks.add.s(4, 4) | ct.mul.s(8) | ct.mul.s(2))()
    linked = tasks.add.apply_async((2, 2), link=ct.log_result.s())
    joined = chord([tasks.add.s(i, i) for i in range(3)], ct.xsum.s())()
    fan = ct.fan_out.delay(3)
    run_burst("-c", "2")
    assert r.get(timeout=30) == 128
    fan_group, members, one, bulk, apart = fan.get(timeout=30)

    last = app.AsyncResult(r.id)  # made from the id alone, as another process would
    assert last.parent.id == r.parent.id and last.parent.get(timeout=30) == 64
    first = last.parent.parent
    assert first.id == r.parent.parent.id and first.get(timeout=30) == 8 and first.parent is None
    assert [c.id for c in first.children] == [r.parent.id] and app.AsyncResult(r.id).children == []
    (link,) = app.AsyncResult(linked.id).children
    assert link.get(timeout=30) == 4 and app.AsyncResult(link.id).parent.id == linked.id
    header = app.AsyncResult(joined.id).parent  # a chord's callback: its header, as when it was sent
    assert isinstance(header, GroupResult) and header.id == joined.parent.id
    assert header.get(timeout=30) == [0, 2, 4]
    assert all(app.AsyncResult(m.id).children == [] for m in joined.parent.results)
    sent_group, sent_one, sent_bulk = app.AsyncResult(fan.id).children  # what its task sent while it ran
    assert isinstance(sent_group, GroupResult) and sent_group.id == fan_group
    assert [m.id for m in sent_group.results] == members and sent_group.get(timeout=30) == [0, 2, 4]
    assert (sent_one.id, sent_bulk.id) == (one, bulk) and app.AsyncResult(one).parent.id == fan.id
    assert app.AsyncResult(members[0]).parent.id == fan.id
    assert app.AsyncResult(apart).parent is None  # add_to_parent=False
    assert app.AsyncResult("no-such-job").children is None and app.AsyncResult("no-such-job").parent is None


def test_a_group_runs_every_member_and_returns_results_in_order(app, run_burst):
    g = group(tasks.add.s(i, i) for i in range(10))()
    assert isinstance(g, GroupResult) and len(g) == 10
    run_burst("-c", "4")
    assert g.get(timeout=30) == [i * 2 for i in range(10)]
    assert g.ready() and g.successful() and not g.failed() and g.completed_count() == 10
    again = GroupResult.restore(g.id, app=app)
    assert [r.id for r in again.results] == [r.id for r in g.results]
    assert again.get(timeout=30) == [i * 2 for i in range(10)]


def test_a_chord_calls_back_once_with_every_result_in_header_order(app, run_burst, ledger):
    r = chord((tasks.add.s(i, i) for i in range(10)), ct.xsum.s())()
    r2 = (group(tasks.add.s(1, 1), tasks.add.s(2, 2)) | ct.xsum.s())()  # a group followed by a task
    r3 = chord([ct.slow_add.s(i, 0, 0.2 - i / 100) for i in range(5)], ct.collect.s(key="order"))()
    run_burst("-c", "4")
    assert r.get(timeout=30) == 90
    assert r2.get(timeout=30) == 6
    assert r3.get(timeout=30) == [0, 1, 2, 3, 4]  # members finished in reverse order
    assert ledger_counts(ledger)["order"] == 1
    assert app.store.group_info(r.parent.id)["state"] == "FIRED"


def test_links_run_with_the_result_and_errbacks_with_request_exception_and_traceback(app, run_burst, ledger):
    ok = tasks.add.apply_async((2, 2), link=ct.log_result.s(), link_error=ct.on_error.s())
    bad = tasks.fail.apply_async(("bad",), link=ct.log_result.s(), link_error=ct.on_error.s())
    old = tasks.fail.apply_async(("old",), link_error=ct.old_style_errback.s())
    sig = tasks.add.s(1, 1)
    sig.link(ct.log_result.s(key="sig-link"))
    linked = sig.delay()
    run_burst()
    assert ok.get(timeout=30) == 4 and linked.get(timeout=30) == 2
    counts = ledger_counts(ledger)
    assert counts.get("link-4") == 1 and counts.get("sig-link-2") == 1
    assert counts.get("errback-ValueError") == 1  # for `bad` only; its link never ran
    assert counts.get("old-errback") == 1
    (errback,) = app.store.list_jobs(task=ct.on_error.name)
    from litequeue import AsyncResult

    assert AsyncResult(errback.task_id, app=app).get(timeout=30) == {
        "id": bad.id, "task": tasks.fail.name, "exc": "ValueError"}
    (old_job,) = app.store.list_jobs(task=ct.old_style_errback.name)
    assert AsyncResult(old_job.task_id, app=app).get(timeout=30) == old.id


def test_signatures_by_name_and_with_options_run_in_a_workflow(app, run_burst):
    r = chain(signature("tests.support.tasks.add", args=(5, 5), app=app), ct.mul.s(2).set(priority=3))()
    run_burst()
    assert r.get(timeout=30) == 20
    assert app.store.get(r.id).priority == 3


def test_a_failing_step_stops_its_chain_and_get_raises_the_original_error(app, run_burst, ledger):
    r = chain(ct.step.s(0, "s1"), tasks.fail.si("step two failed"), ct.step.s("s3"))()
    run_burst()
    with pytest.raises(ValueError, match="step two failed"):
        r.get(timeout=30)
    assert ledger_counts(ledger) == {"s1": 1}  # the third step never ran
    assert app.store.get(r.id) is None  # and was never sent


def test_a_failing_member_fails_the_chord_naming_it_and_calls_its_errbacks(app, run_burst, ledger):
    header = [tasks.add.s(1, 1), tasks.fail.si("member failed"), tasks.add.s(2, 2)]
    r = chord(header, ct.collect.s().on_error(ct.on_error.s(key="chord-errback")))()
    run_burst()
    with pytest.raises(ChordError) as info:
        r.get(timeout=30)
    failed_member = r.parent.results[1].id
    assert failed_member in str(info.value) and "member failed" in str(info.value)
    counts = ledger_counts(ledger)
    assert "collect" not in counts  # the callback never ran
    assert counts.get("chord-errback-ChordError") == 1
    assert app.store.group_info(r.parent.id)["failed_member"] == failed_member


def test_a_member_retried_does_not_fire_the_join_early(app, run_burst, ledger):
    header = [tasks.flaky.s("flaky-member", 2), tasks.add.s(1, 1)]
    r = chord(header, ct.collect.s(key="after-retries"))()
    run_burst()
    assert r.get(timeout=30) == [2, 2]  # flaky returns its retries
    assert ledger_counts(ledger)["after-retries"] == 1
    assert ledger_counts(ledger)["flaky-member"] == 3


def test_revoking_a_group_revokes_what_has_not_run_and_fails_its_chord(app, run_burst, ledger):
    g = group(tasks.add.s(i, i) for i in range(3))()
    g.revoke()
    c = chord([tasks.add.s(1, 1), tasks.add.s(2, 2)], ct.collect.s(key="revoked-chord"))()
    c.parent.results[0].revoke()
    run_burst()
    assert all(r.state == states.REVOKED for r in g.results)
    with pytest.raises(TaskRevokedError):
        g.get(timeout=30)
    with pytest.raises(ChordError, match="revoked"):
        c.get(timeout=30)
    assert "revoked-chord" not in ledger_counts(ledger)


def test_workflows_nest_as_celery_allows(app, run_burst):
    in_group = group(chain(tasks.add.s(1, 1), ct.mul.s(10)), tasks.add.s(5, 5))()  # a chain inside a group
    in_chain = chain(tasks.add.s(1, 1), group(tasks.add.s(1), tasks.add.s(2)), ct.xsum.s())()  # a group in a chain
    chains_header = chord([chain(tasks.add.s(1, 1), ct.mul.s(10)), chord([tasks.add.s(1, 1)], ct.xsum.s())],
                          ct.xsum.s())()  # a chord header of a chain and a chord
    chord_then = (chord([tasks.add.s(1, 2)], ct.xsum.s()) | ct.mul.s(3))()
    run_burst("-c", "2")
    assert in_group.get(timeout=30) == [20, 10]
    assert in_chain.get(timeout=30) == 7
    assert chains_header.get(timeout=30) == 22
    assert chord_then.get(timeout=30) == 9


def test_as_completed_yields_results_as_they_finish(app, run_burst):
    g = group(ct.slow_add.s(i, 0, 0.3 - i / 10) for i in range(3))()
    run_burst("-c", "3")
    finished = list(g.as_completed(timeout=30))
    assert sorted(r.id for r in finished) == sorted(r.id for r in g.results)
    assert sorted(g.iterate(timeout=30)) == [0, 1, 2]


def test_revoking_a_chain_stops_the_steps_not_yet_run(app, run_burst, ledger):
    r = chain(ct.step.s(0, "c1"), ct.step.s("c2"), ct.step.s("c3"))()
    r.revoke()
    run_burst()
    with pytest.raises(TaskRevokedError):
        r.get(timeout=30)
    assert ledger_counts(ledger) == {}  # the first step was revoked while waiting: nothing ran

    r = chain(ct.step.s(0, "d1"), tasks.slow_record.si("d2", 1.0), ct.step.s(5, "d3"))()
    burst = threading.Thread(target=run_burst)
    burst.start()
    deadline = time.monotonic() + 30
    while "d2-start" not in ledger_counts(ledger) and time.monotonic() < deadline:
        time.sleep(0.01)
    r.revoke()  # the second step is running: it finishes, and the third is never run
    burst.join(60)
    with pytest.raises(TaskRevokedError):
        r.get(timeout=30)
    assert ledger_counts(ledger)["d2"] == 1 and "d3" not in ledger_counts(ledger)
    assert app.store.get(r.id).state == states.REVOKED


def test_a_chord_member_deleted_before_the_join_fails_the_chord_naming_it(app, run_burst, ledger):
    default = app.conf.task_default_queue
    on_error = ct.on_error.s(key="deleted-errback")
    purged = chord([tasks.add.s(1, 1), tasks.add.s(2, 2).set(queue="parked")],
                   ct.collect.s(key="purged-chord").on_error(on_error))()
    forgotten = chord([tasks.add.s(1, 1), tasks.add.s(3, 3).set(queue="parked")], ct.collect.s(key="forgotten-chord"))()
    run_burst("-Q", default)  # the first member of each; the second waits in a queue no worker reads
    done = forgotten.parent.results[0]
    assert app.store.prune(time.time() + 60) == 0  # prune keeps members a chord still waits for
    done.forget()  # its result, which the callback needs, is gone: the chord fails now
    with pytest.raises(ChordError, match="forget") as info:
        forgotten.get(timeout=30)
    assert done.id in str(info.value)
    assert app.store.purge("parked") == 2  # a waiting member deleted: its chord fails, in that transaction
    with pytest.raises(ChordError, match="purge") as info:
        purged.get(timeout=30)
    assert purged.parent.results[1].id in str(info.value)
    assert app.store.group_info(purged.parent.id)["failed_member"] == purged.parent.results[1].id
    run_burst("-Q", default)  # the errbacks
    counts = ledger_counts(ledger)
    assert "purged-chord" not in counts and "forgotten-chord" not in counts  # no callback ran
    assert counts.get("deleted-errback-ChordError") == 1


def test_the_workflows_example_runs_and_prints_what_it_promises(tmp_path):
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    for name in ("workflows.py", "workflow_tasks.py"):  # run from a copy: its database is written beside it
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    run = subprocess.run([sys.executable, "workflows.py"], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    for expected in ("partial:  5 | by name: 10", "pipe:     64 parent: 8",
                     "by id:    parent 8 | children of the first step: [True]", "chain:    16",
                     "group:    [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]", "chord:    90 | group | task: 6", "linked:   4"):
        assert expected in lines, run.stdout
    assert any(line.startswith("chord failed as it should:") for line in lines), run.stdout
    assert any(line.startswith("purged member:") for line in lines), run.stdout
