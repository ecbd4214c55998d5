"""Bad input gets a LiteQueueError naming the argument, never a raw Python error; what is stored
is shown safely (issue 21, items 7, 8 and 9)."""

from __future__ import annotations

import datetime as dt

import pytest

from litequeue.errors import ConfigurationError, InvalidOptionError, SerializationError
from tests.processes.test_core import run_cli
from tests.support import tasks

SURROGATE = "caf\udce9"


@pytest.mark.parametrize("options,named", [
    ({"countdown": 1e308}, "countdown"),
    ({"eta": dt.datetime(9999, 12, 31, tzinfo=dt.UTC)}, "eta"),
    ({"eta": dt.datetime.min}, "eta"),
    ({"eta": dt.datetime(1900, 1, 1, tzinfo=dt.UTC)}, "eta"),
    ({"expires": 1e308}, "expires"),
    ({"expires": dt.datetime.max}, "expires"),
], ids=["huge countdown", "year 9999", "datetime.min", "before 1970", "huge expires", "datetime.max"])
def test_times_no_date_can_show_are_refused_at_the_call(app, options, named):
    with pytest.raises(InvalidOptionError, match=named) as caught:
        tasks.add.apply_async((1, 2), **options)
    assert isinstance(caught.value, ValueError)  # as Celery code catching ValueError expects
    assert app.store.counts() == {}


def test_a_retry_countdown_past_the_year_3000_is_refused():
    from litequeue.moments import retry_time

    with pytest.raises(InvalidOptionError, match="retry"):
        retry_time(1e308, None, 0)


def test_arguments_nested_too_deeply_are_a_serialization_error(app):
    value: list = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(SerializationError, match="nested too deeply"):
        tasks.echo.delay(value)
    assert app.store.counts() == {}


@pytest.mark.parametrize("where", ["task name", "queue", "routing_key", "task_id"])
@pytest.mark.parametrize("bad", [SURROGATE, "evil\nTask forged succeeded", "red\x1b[31m", "bell\x07",
                                 "cr\rover", "bidi\u202eexe.txt"],
                         ids=["lone surrogate", "newline", "escape", "bell", "carriage return", "bidi override"])
def test_names_and_ids_with_unprintable_characters_are_refused(app, where, bad):
    with pytest.raises(InvalidOptionError, match=where) as caught:
        if where == "task name":
            app.send_task(bad, args=[1])
        elif where == "task_id":
            tasks.add.apply_async((1, 2), task_id=bad)
        else:
            tasks.add.apply_async((1, 2), **{where: bad})
    assert "printable" in caught.value.message
    assert "\x1b" not in caught.value.message and "\n" not in caught.value.message
    caught.value.message.encode()  # the message itself can be printed anywhere
    assert app.store.counts() == {}


def _poison_row(app, job_id: str, **values) -> None:
    """Write what an attacker (or a bug) could put in a row, bypassing every check."""
    sets = ", ".join(f"{name} = ?" for name in values)
    app.store.db.execute_sql(f"UPDATE lq_jobs SET {sets} WHERE task_id = ?", (*values.values(), job_id))


def test_a_stored_eta_no_date_can_hold_is_shown_not_a_traceback(app, db, worker_env):
    job = tasks.add.apply_async((1, 2), countdown=60)
    _poison_row(app, job.id, eta=1e308, wait_until=1e308)
    for command in (["result", db, job.id], ["status", db]):
        proc = run_cli(*command, env=worker_env)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "out of range" in run_cli("result", db, job.id, env=worker_env).stdout


def test_control_characters_in_a_stored_row_reach_no_terminal_and_forge_no_log_line(app, db, worker_env,
                                                                                 run_burst):
    job = tasks.add.delay(1, 2)
    forged = "evil\n[2026-01-01 00:00:00,000: INFO/MainProcess] Task x succeeded\x1b[2J\u202e"
    _poison_row(app, job.id, task=forged, queue="default")
    worker = run_burst("-c", "1")
    log = worker.output()
    assert "\x1b" not in log and "\u202e" not in log
    assert not any(line.startswith("[2026-01-01") for line in log.splitlines())  # no forged line
    assert "evil\\n" in log
    for command in (["result", db, job.id], ["failed", db], ["status", db]):
        out = run_cli(*command, env=worker_env).stdout
        assert "\x1b" not in out and "\u202e" not in out, command
    assert "evil\\n" in run_cli("result", db, job.id, env=worker_env).stdout


def test_an_in_process_worker_name_with_a_control_character_is_refused(app):
    with pytest.raises(ConfigurationError, match="control character") as caught:
        app.worker(name="w1\x1b[31m@host")
    assert "\x1b" not in caught.value.message
