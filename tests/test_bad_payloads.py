"""Payloads litequeue must not store or must not trust: each fails at the call with the argument
named, or fails its job with a clear error, and nothing foreign is ever deserialised or called."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from litequeue import states
from litequeue.errors import PayloadTooLarge, SerializationError, TaskError
from tests.conftest import integrity_ok
from tests.support import tasks
from tests.support.observe import row


class LeavesAMark:
    """Unpickling this would create the file ``path``: proof that a body was deserialised."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def job_count(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM lq_jobs").fetchone()[0]
    finally:
        conn.close()


def test_an_unserialisable_argument_fails_at_the_call_naming_it(app, db):
    _ = app.store  # the database exists, so "nothing enqueued" can be checked
    with pytest.raises(SerializationError, match=r"argument 1 \(object\)"):
        tasks.add.delay(1, object())
    with pytest.raises(SerializationError, match=r"keyword argument 'result' \(lock\)"):
        tasks.record.delay("key", result=threading.Lock())
    assert job_count(db) == 0


def test_an_argument_over_the_payload_limit_is_refused(app, db, monkeypatch):
    monkeypatch.setattr(app.conf, "task_max_payload_bytes", 1000)
    with pytest.raises(PayloadTooLarge, match=r"task_max_payload_bytes \(1000\)"):
        tasks.record.delay("key", "x" * 2000)
    assert tasks.record.delay("key", "x" * 100).job_state == states.QUEUED
    assert job_count(db) == 1


def test_an_unserialisable_return_value_fails_the_job_clearly(app, db, run_burst):
    result = tasks.returns_unserialisable.delay()
    run_burst("-c", "1")
    stored = row(db, result.id)
    assert stored["state"] == states.FAILURE
    assert stored["exc_type"] == "litequeue.errors.SerializationError"
    assert "returned a object, which cannot be stored as its result" in stored["exc_message"]
    assert integrity_ok(db)


def test_a_job_whose_content_type_is_not_accepted_is_failed_and_never_deserialised(app, db, tmp_path, run_burst):
    mark = tmp_path / "deserialised"
    # The producer may pickle; the worker accepts only JSON (the default accept_content).
    result = tasks.record.apply_async(("key", LeavesAMark(str(mark))), serializer="pickle")
    run_burst("-c", "1")
    stored = row(db, result.id)
    assert stored["state"] == states.FAILURE
    assert stored["exc_type"] == "litequeue.errors.ContentDisallowed"
    assert "application/x-python-serialize" in stored["exc_message"]
    assert not mark.exists()
    assert stored["attempts"] == 1  # refused once, not retried
    assert integrity_ok(db)


def store_failure(db: str, task_id: str, exc_type: str, message: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE lq_jobs SET state = 'FAILURE', exc_type = ?, exc_message = ? WHERE task_id = ?",
                 (exc_type, message, task_id))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("type_name", ["os.system", "builtins.print", "collections.OrderedDict",
                                       "no_such_module.Error", "builtins.object"])
def test_a_stored_error_that_is_not_an_exception_class_comes_back_as_task_error(app, db, tmp_path, type_name):
    mark = tmp_path / "called"
    result = tasks.add.delay(1, 2)
    store_failure(db, result.id, type_name, f"touch {mark}")
    with pytest.raises(TaskError) as raised:
        result.get(timeout=5)
    assert raised.value.type_name == type_name
    assert not mark.exists() and not os.path.exists(f"touch {mark}")


def test_a_stored_exception_class_is_rebuilt(app, db):
    result = tasks.add.delay(1, 2)
    store_failure(db, result.id, "KeyError", "missing")
    with pytest.raises(KeyError, match="missing"):
        result.get(timeout=5)


@pytest.mark.parametrize("type_name", ["apscheduler.schedulers.SchedulerNotRunningError",
                                       "apscheduler.schedulers.SchedulerAlreadyRunningError"])
def test_an_exception_of_a_module_the_application_did_not_import_is_not_rebuilt(app, db, type_name):
    import importlib

    importlib.import_module(type_name.rpartition(".")[0])  # imported (as litequeue's beat does), not by the app
    result = tasks.add.delay(1, 2)
    store_failure(db, result.id, type_name, "made up")
    with pytest.raises(TaskError) as raised:
        result.get(timeout=5)
    assert raised.value.type_name == type_name


@pytest.mark.parametrize("type_name,expected", [
    ("tests.support.tasks.TaskBoom", "TaskBoom"),  # the application's own code
    ("json.decoder.JSONDecodeError", None),  # the standard library: TaskError when it cannot take one message
    ("ZeroDivisionError", "ZeroDivisionError"),
])
def test_exceptions_the_application_knows_are_rebuilt(app, db, type_name, expected):
    result = tasks.add.delay(1, 2)
    store_failure(db, result.id, type_name, "boom")
    with pytest.raises(Exception) as raised:
        result.get(timeout=5)
    assert type(raised.value).__name__ == (expected or "TaskError")
