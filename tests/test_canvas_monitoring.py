"""Seeing a workflow: ``litequeue result`` (of a job or of a group/chord id), ``status`` and
``inspect`` show members done / total, the join's state and which step a chain is on."""

from __future__ import annotations

from click.testing import CliRunner

from litequeue import chain, chord, monitoring
from litequeue.cli import main
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
