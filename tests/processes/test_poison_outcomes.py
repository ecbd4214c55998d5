"""One job's outcome never kills a worker (issue 21, item 4): whatever a task raises or returns,
the job ends with its error kept (made encodable) and the worker carries on, running every other
job exactly once."""

from __future__ import annotations

import pytest

from litequeue import states
from tests.conftest import ledger_counts
from tests.support import tasks


def test_an_error_message_with_a_lone_surrogate_is_stored_escaped_and_the_worker_lives(app, run_burst, ledger):
    poison = tasks.raises_undecodable.delay("poison")
    innocent = [tasks.record.delay(f"innocent{n}", n) for n in range(20)]
    worker = run_burst("-c", "2")
    assert poison.state == states.FAILURE
    assert poison.job.exc_message == "could not process caf\\udce9.txt"
    assert "caf\\udce9.txt" in poison.job.traceback
    with pytest.raises(RuntimeError, match=r"caf\\udce9"):
        poison.get(timeout=5)
    assert [r.get(timeout=5) for r in innocent] == list(range(20))
    counts = ledger_counts(ledger)
    assert counts.pop("poison") == 1 and set(counts.values()) == {1} and len(counts) == 20
    assert "UnicodeEncodeError" not in worker.output() and "Logging error" not in worker.output()


def test_an_exception_whose_str_and_repr_raise_ends_the_job_not_the_child(app, run_burst, ledger):
    poison = tasks.raises_unprintable.delay("unprintable")
    after = tasks.add.delay(1, 2)
    run_burst("-c", "1")
    assert poison.state == states.FAILURE
    assert poison.job.exc_type == "tests.support.tasks.Unprintable"
    assert "str() and repr() fail" in poison.job.exc_message
    assert after.get(timeout=5) == 3
    assert ledger_counts(ledger) == {"unprintable": 1}  # ran once: the child did not die


def test_a_result_with_a_lone_surrogate_round_trips(app, run_burst):
    result = tasks.returns_undecodable.delay("returns")
    run_burst("-c", "1")
    assert result.get(timeout=5) == tasks.UNDECODABLE_NAME


def test_an_outcome_no_store_can_hold_is_recorded_as_a_failure_and_the_worker_lives(app, run_burst, ledger):
    poison = tasks.retries_at_an_impossible_time.delay("impossible")
    others = [tasks.record.delay(f"other{n}", n) for n in range(5)]
    worker = run_burst("-c", "1")
    assert poison.state == states.FAILURE
    assert "could not be stored" in poison.job.exc_message
    assert [r.get(timeout=5) for r in others] == list(range(5))
    assert ledger_counts(ledger)["impossible"] == 1
    assert "recording them as failures" in worker.output()
