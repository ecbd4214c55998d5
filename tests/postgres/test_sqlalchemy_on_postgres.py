"""SQLAlchemy on PostgreSQL, the store in the application's database: a job sent inside the
application's transaction (psycopg 3 or psycopg2) commits or rolls back with it, is invisible
to workers until the commit, and wakes them (its NOTIFY is delivered at commit)."""

from __future__ import annotations

import pytest

sa = pytest.importorskip("sqlalchemy")
from sqlalchemy.orm import Session  # noqa: E402

from litequeue.contrib.sqlalchemy import enqueue_in  # noqa: E402
from litequeue.errors import ConfigurationError  # noqa: E402
from litequeue.store.postgres import parse_url  # noqa: E402

from .conftest import query  # noqa: E402

metadata = sa.MetaData()
orders = sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("item", sa.String))


@pytest.fixture(params=["psycopg", "psycopg2"])
def engine(request, app, db):
    pytest.importorskip(request.param)
    target = parse_url(db)
    url = sa.URL.create(f"postgresql+{request.param}", username=target.user, password=target.password,
                        host=target.host, port=target.port, database=target.dbname)
    app.store  # noqa: B018 - the store's schema and tables exist
    engine = sa.create_engine(url, connect_args={"options": f"-c search_path={target.schema}"})
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_commit_stores_the_job_with_the_rows_and_a_worker_runs_it(app, db, engine, start_worker, worker_env):
    from tests.support.tasks import add

    worker_env["LQ_POLL"] = "300"  # only the NOTIFY delivered at commit can wake it in time
    worker = start_worker()
    worker.wait_for_log("ready")
    with Session(engine) as session, session.begin():
        session.execute(orders.insert().values(id=1, item="book"))
        with enqueue_in(session):
            result = add.delay(2, 3)
        assert query(db, "SELECT count(*) FROM lq_jobs WHERE task_id = %s", (result.id,)) == [(0,)]
    assert result.get(timeout=60) == 5


def test_rollback_leaves_neither_the_job_nor_the_row(app, db, engine):
    from tests.support.tasks import add

    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(orders.insert().values(id=2, item="pen"))
        with enqueue_in(conn):
            result = add.delay(1, 1)
            many = add.map(range(3))
        raise RuntimeError("the request failed")
    ids = [result.id] + [r.id for r in many]
    assert query(db, "SELECT count(*) FROM lq_jobs WHERE task_id = ANY(%s)", (ids,)) == [(0,)]
    assert query(db, "SELECT count(*) FROM orders") == [(0,)]


def test_a_connection_to_another_database_is_refused(app, db, engine):
    from tests.support.tasks import add

    other = sa.create_engine(engine.url.set(database="postgres"))
    try:
        with other.begin() as conn, enqueue_in(conn), pytest.raises(ConfigurationError, match="same database"):
            add.delay(1, 2)
    finally:
        other.dispose()
