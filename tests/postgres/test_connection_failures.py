"""When PostgreSQL is not there: a wrong URL, an unknown user or database is one clear line.
(A server restarting under a running worker: test_server_restart.py.)"""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest

from litequeue.errors import ConfigurationError, StoreAccessDenied
from litequeue.store.postgres import parse_url, translate
from tests.conftest import ROOT, litequeue_command
from tests.postgres.conftest import ADMIN_URL


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(litequeue_command() + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


WORKER = ("-A", "tests.support.tasks", "--burst")


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def elsewhere(**parts: str) -> str:
    """The test server's URL with some parts changed (port, user, database)."""
    url = urlsplit(ADMIN_URL)
    user = parts.get("user", url.username or "")
    password = f":{url.password}" if url.password and "user" not in parts else ""
    netloc = f"{user}{password}@{url.hostname}:{parts.get('port', url.port or 5432)}"
    return urlunsplit((url.scheme, netloc, "/" + parts.get("dbname", url.path.lstrip("/")), "", ""))


def test_a_port_where_no_server_listens_is_one_clear_line(worker_env, pg_database):
    line = one_line_error(cli(worker_env, "worker", elsewhere(port="1"), *WORKER))
    assert "cannot reach PostgreSQL" in line and ":1/" in line and "host and port" in line


def test_a_missing_database_is_one_clear_line_naming_createdb(worker_env, pg_database):
    line = one_line_error(cli(worker_env, "worker", elsewhere(dbname="lq_no_such_db"), *WORKER))
    assert "the database lq_no_such_db does not exist" in line and "createdb" in line


def test_an_unknown_user_is_one_clear_line(worker_env, pg_database):
    line = one_line_error(cli(worker_env, "worker", elsewhere(user="lq_nobody", dbname=pg_database), *WORKER))
    assert "refused the login" in line and "user and password" in line


def test_an_unknown_url_parameter_is_one_clear_line(worker_env, pg_database):
    line = one_line_error(cli(worker_env, "worker", elsewhere(dbname=pg_database) + "?colour=blue", *WORKER))
    assert 'invalid connection option "colour"' in line and "remove it from the URL" in line


def test_a_wrong_password_is_reported_as_a_refused_login():
    # The server here trusts local logins, so the driver's message is built as it reports it.
    psycopg2 = pytest.importorskip("psycopg2")

    exc = psycopg2.OperationalError(
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "app"')
    error = translate(exc, parse_url("postgresql://app:wrong@127.0.0.1:5432/app"))
    assert isinstance(error, StoreAccessDenied)
    assert "wrong" not in error.message and "user and password" in error.message


@pytest.mark.parametrize("url, problem", [
    ("postgresql://postgres@127.0.0.1:port/app", "port is not a number"),
    ("postgresql://postgres@127.0.0.1:5432/", "name one database"),
    ("postgresql://postgres@127.0.0.1:5432/app?schema=bad-name", "not a plain identifier"),
])
def test_a_malformed_url_names_the_problem(url, problem):
    with pytest.raises(ConfigurationError, match=problem):
        parse_url(url)
