"""Seeing and handling a workflow from the command line: ``litequeue result`` (of a job or of a
group/chord id), ``status`` and ``inspect`` show members done / total, the join's state and which
step a chain is on; ``purge`` without the app refuses what it cannot record."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from litequeue import LiteQueue, chain, chord, monitoring
from litequeue.cli import main
from litequeue.errors import WorkflowNeedsApp
from litequeue.testing import drain
from tests.support import canvas_tasks as ct
from tests.support import tasks


def cli(*args: str) -> str:
    out = CliRunner().invoke(main, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def test_result_and_status_show_a_chords_progress_and_a_chains_step(app, db):
    c = chord([tasks.add.s(i, i) for i in range(5)], ct.xsum.s())()
    r = chain(tasks.add.s(1, 1), ct.mul.s(3), ct.mul.s(4))()
    drain(app, limit=3)  # three of the five members
    assert "chord:    3/5 members done" in cli("result", db, c.parent.id)
    assert "join:     OPEN" in cli("result", db, c.parent.id)
    member = cli("result", db, c.parent.results[0].id)
    assert f"workflow: chord {c.parent.id} member 0, 3/5 done, join OPEN" in member
    first = app.store.list_jobs(task=tasks.add.name, states_=["QUEUED"])[-1]
    assert first.options["chain_step"] == [1, 3]
    assert "chain step 1 of 3; then tests.support.canvas_tasks.mul | tests.support.canvas_tasks.mul" in cli(
        "result", db, first.task_id)
    status = cli("status", db)
    assert c.parent.id in status and "3/5" in status
    (flow,) = monitoring.status(app)["workflows"]
    assert flow["members_done"] == 3 and flow["members_total"] == 5 and flow["chord"]
    drain(app)
    assert c.get(timeout=10) == 20 and r.get(timeout=10) == 24
    assert "join:     FIRED" in cli("result", db, c.parent.id)
    assert "chain step 3 of 3" in cli("result", db, r.id)


def test_purge_without_the_app_refuses_to_fail_a_chord_it_cannot_record_and_changes_nothing(app, db):
    c = chord([tasks.add.s(1, 1), tasks.add.s(2, 2).set(queue="parked")], ct.xsum.s().on_error(ct.on_error.s()))()
    refused = CliRunner().invoke(main, ["purge", db, "--queue", "parked", "--force"])
    assert refused.exit_code == 1 and "would fail chord" in refused.output and "-A" in refused.output
    assert ct.on_error.name in refused.output and "Nothing was changed" in refused.output
    assert app.store.count_jobs(["QUEUED"], queue="parked") == 1
    assert app.store.group_info(c.parent.id)["state"] == "OPEN"
    bare = LiteQueue(db)  # an app without the application's tasks, as a command without -A has
    with pytest.raises(WorkflowNeedsApp, match="revoke would fail chord"):
        bare.control.revoke(c.parent.results[1].id)
    bare.close()
    assert app.store.get(c.parent.results[1].id).state == "QUEUED"

    assert "Purged 1 waiting job(s)" in cli("purge", db, "--queue", "parked", "--force", "-A", "tests.support.tasks")
    assert app.store.group_info(c.parent.id)["state"] == "FAILED" and app.store.get(c.id).state == "FAILURE"
    (errback,) = app.store.list_jobs(task=ct.on_error.name)
    assert errback.state == "QUEUED"
