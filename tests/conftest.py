"""Shared fixtures: a fresh SQLite file per test, the support app bound to it, and real worker
processes started the way a user starts them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def litequeue_command() -> list[str]:
    """The installed ``litequeue`` script beside this Python, else ``python -m litequeue``."""
    script = Path(sys.executable).parent / "litequeue"
    return [str(script)] if script.exists() else [sys.executable, "-m", "litequeue"]


class WorkerProcess:
    """A real ``litequeue worker`` subprocess with its log in a file."""

    def __init__(self, db: str, args: list[str], env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "wb")
        cmd = litequeue_command() + ["worker", db, "-A", "tests.support.tasks", "-l", "info", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.flush()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not in worker log:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "test.sqlite")


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    monkeypatch.setenv("LQ_LEDGER", str(path))
    return path


def ledger_counts(ledger: Path) -> dict[str, int]:
    """{key: executions} from the ledger directory."""
    counts: dict[str, int] = {}
    for name in os.listdir(ledger):
        key = name.rsplit(".", 1)[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.fixture
def app(db: str, ledger: Path):
    from tests.support import tasks

    tasks.app.url = db
    yield tasks.app
    tasks.app.close()


@pytest.fixture
def flow_app(db: str, ledger: Path):
    """The flow-control tier's app (tests.support.flow_tasks) bound to the test's database."""
    from tests.support import flow_tasks

    flow_tasks.app.url = db
    yield flow_tasks.app
    flow_tasks.app.close()


@pytest.fixture
def celery_env(db: str, monkeypatch):
    """CELERY_BROKER_URL naming the test's store, and the environment in which
    ``litequeue -A tests.support.celery_tasks`` finds that app; the app is closed afterwards."""
    from tests.support import celery_tasks

    monkeypatch.setenv("CELERY_BROKER_URL", db)
    yield {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    celery_tasks.app.close()


@pytest.fixture
def worker_env(db: str, ledger: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["LQ_TEST_DB"] = db
    env["LQ_LEDGER"] = str(ledger)
    return env


POOLS = ("prefork", "threads", "solo")


@pytest.fixture
def pool() -> str:
    """The pool workers run with (-P); a module runs its tests under every pool by overriding
    this fixture with ``params=POOLS``. Tests marked ``prefork_only`` are skipped under others."""
    return "prefork"


@pytest.fixture(autouse=True)
def _prefork_only(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("prefork_only")
    if marker is not None and "pool" in request.fixturenames and request.getfixturevalue("pool") != "prefork":
        pytest.skip(f"prefork only: {marker.args[0] if marker.args else 'it needs pool processes'}")


@pytest.fixture
def start_worker(db: str, worker_env: dict, tmp_path: Path, pool: str):
    """start_worker(*args) -> a running WorkerProcess on the test's database (with -P pool)."""
    started: list[WorkerProcess] = []

    def start(*args: str, database: str | None = None) -> WorkerProcess:
        args = ("-P", pool, *args) if pool != "prefork" else args
        w = WorkerProcess(database or db, list(args), worker_env, tmp_path / f"worker{len(started)}.log")
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def run_burst(start_worker):
    """run_burst(*args) runs a --burst worker to completion and returns it (asserting exit 0)."""

    def run(*args: str, timeout: float = 60) -> WorkerProcess:
        w = start_worker("--burst", *args)
        code = w.wait(timeout)
        assert code == 0, w.output()
        return w

    return run


def integrity_ok(db: str) -> bool:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
