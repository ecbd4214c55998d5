"""Both PostgreSQL drivers work: psycopg 3 (the ``postgres`` extra, and the choice for a plain
``postgresql://`` URL when installed) and psycopg2 (``postgresql+psycopg2://``). Jobs are sent,
a worker is woken by NOTIFY on the driver's own LISTEN connection and runs them, errors are
litequeue's."""

from __future__ import annotations

import select

import pytest

from litequeue import LiteQueue
from litequeue.errors import ConfigurationError, DuplicateJob, StoreUnavailable


def with_driver(url: str, driver: str) -> str:
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_each_driver_sends_wakes_and_runs(driver, db, start_worker, worker_env):
    pytest.importorskip(driver)
    url = with_driver(db, driver)
    app = LiteQueue(url)
    try:
        assert app.store.driver.__name__ == driver
        listener = app.store.listener("test")
        try:
            app.send_task("tests.support.tasks.add", (2, 3), task_id="first")
            assert select.select([listener], [], [], 10)[0]  # the NOTIFY reached the LISTEN connection
            assert listener.drain()
        finally:
            listener.close()
        with pytest.raises(DuplicateJob):
            app.send_task("tests.support.tasks.add", (2, 3), task_id="first")
        worker_env["LQ_POLL"] = "300"
        start_worker(database=url)
        assert app.AsyncResult("first").get(timeout=60) == 5
        assert app.send_task("tests.support.tasks.add", (4, 4)).get(timeout=60) == 8  # woken, not polled
    finally:
        app.close()


def test_a_plain_url_prefers_psycopg_3_when_installed(db):
    pytest.importorskip("psycopg")
    app = LiteQueue(db)
    try:
        assert app.store.driver.__name__ == "psycopg"
    finally:
        app.close()


def test_an_unknown_driver_and_an_unreachable_server_are_named(db):
    with pytest.raises(ConfigurationError, match="unknown driver 'asyncpg'"):
        LiteQueue(db.replace("postgresql://", "postgresql+asyncpg://", 1)).store  # noqa: B018
    for driver in ("psycopg", "psycopg2"):
        pytest.importorskip(driver)
        with pytest.raises(StoreUnavailable, match="cannot reach PostgreSQL"):
            LiteQueue(f"postgresql+{driver}://postgres@127.0.0.1:1/x").store  # noqa: B018
