"""The PostgreSQL tier: the same fixtures as the SQLite tests (``db``, ``app``, ``start_worker``,
``run_burst``, ...), with ``db`` a PostgreSQL URL instead of a file.

One scratch database per run (``lq_test_<random>``, dropped at the end) and one schema per test
inside it, so tests never see each other's jobs. Set LQ_POSTGRES_URL to use another server
(default: postgresql://postgres@127.0.0.1:5432/postgres). Without a reachable server these tests
are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("LQ_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_schemas = itertools.count()


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests need a server at {ADMIN_URL}: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run them: start PostgreSQL, see .ci/run)", pytrace=False)
    pytest.skip(message)


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))


def admin_connect(url: str = ADMIN_URL) -> Any:
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_database() -> Any:
    """The name of this run's scratch database."""
    try:
        import psycopg2
    except ImportError:
        _unavailable("the driver is not installed (pip install -e '.[test,postgres]')")
    try:
        admin = admin_connect()
    except psycopg2.Error as exc:
        _unavailable(str(exc).strip().splitlines()[0])
    name = f"lq_test_{secrets.token_hex(4)}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    yield name
    admin = admin_connect()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def pg_base(pg_database: str) -> str:
    """The scratch database's URL, without a schema."""
    return with_database(ADMIN_URL, pg_database)


@pytest.fixture
def pg_url(pg_base: str) -> str:
    """A store URL of this test's own: a fresh schema in the scratch database."""
    return f"{pg_base}?schema=t{os.getpid()}_{next(_schemas)}"


@pytest.fixture
def db(pg_url: str) -> str:
    return pg_url


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one statement with plain psycopg2 in the URL's schema (not through litequeue)."""
    from litequeue.store.postgres import parse_url

    target = parse_url(url)
    conn = admin_connect(with_database(ADMIN_URL, target.dbname))
    try:
        with conn.cursor() as cursor:
            if target.schema:
                cursor.execute(f'SET search_path TO "{target.schema}"')
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def row(url: str, task_id: str) -> dict[str, Any]:
    """The job's row as stored, read with plain psycopg2."""
    from litequeue.store.postgres import parse_url

    target = parse_url(url)
    conn = admin_connect(with_database(ADMIN_URL, target.dbname))
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{target.schema}"')
            cursor.execute("SELECT * FROM lq_jobs WHERE task_id = %s", (task_id,))
            found = cursor.fetchone()
            names = [d[0] for d in cursor.description]
    finally:
        conn.close()
    assert found is not None, f"no row for {task_id}"
    return dict(zip(names, found, strict=True))


@pytest.fixture(scope="module")
def private_cluster():
    """A PostgreSQL cluster of this module's own (see tests/support/pg_cluster.py), for tests that
    restart or crash the server: the shared server on 5432 is never stopped by a test."""
    from tests.support.pg_cluster import PrivateCluster, bin_dir

    bindir = bin_dir()
    if bindir is None or not shutil.which("runuser") and os.geteuid() == 0:
        _unavailable("a private cluster needs PostgreSQL's initdb and pg_ctl")
    cluster = PrivateCluster(bindir)  # type: ignore[arg-type]
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
