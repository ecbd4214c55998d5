"""``litequeue multi``: detached workers started, seen in status, used, and stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess

import pytest

from litequeue import LiteQueue
from litequeue.worker.detached import Pidfile
from tests.conftest import ROOT, litequeue_command

HOST = socket.gethostname()


@pytest.fixture
def multi(tmp_path, worker_env, db):
    """multi(subcommand, *names) runs `litequeue multi` with pidfiles and logs in tmp_path; every
    worker still running at the end is killed."""
    files = ["--pidfile", str(tmp_path / "%n.pid")]
    LiteQueue(db).store.close()  # the store exists, as once a producer has sent (multi start refuses a typo)

    def run(command: str, *names: str, start_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        args = [command, *names]
        if command in ("start", "restart", "show"):
            args += [db, "-A", "tests.support.tasks", "-c", "1", "--logfile", str(tmp_path / "%n%I.log"), *start_args]
        return subprocess.run(litequeue_command() + ["multi", *args, *files], cwd=tmp_path, env=worker_env,
                              capture_output=True, text=True, timeout=90)

    yield run
    for pidfile in tmp_path.glob("*.pid"):
        pid = Pidfile(str(pidfile)).running_pid()
        if pid is not None:
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def status(db: str, env: dict) -> dict:
    proc = subprocess.run(litequeue_command() + ["status", db, "--json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_multi_start_two_workers_run_jobs_and_stopwait_ends_them(multi, app, db, tmp_path, worker_env):
    from tests.support.tasks import whoami

    started = multi("start", "w1", "w2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"w1@{HOST}: OK" in started.stdout and f"w2@{HOST}: OK" in started.stdout
    pids = {name: Pidfile(str(tmp_path / f"{name}.pid")).running_pid() for name in ("w1", "w2")}
    assert all(pids.values())
    for pid in pids.values():  # detached: a session of its own, stdin from /dev/null
        assert os.getsid(pid) != os.getsid(0)
        assert os.readlink(f"/proc/{pid}/fd/0") == os.devnull
    workers = {w["name"]: w for w in status(db, worker_env)["workers"]}
    assert {name: (w["status"], w["pid"]) for name, w in workers.items()} == {
        f"w1@{HOST}": ("running", pids["w1"]), f"w2@{HOST}": ("running", pids["w2"])}

    results = [whoami.delay() for _ in range(6)]
    assert {r.get(timeout=30)["hostname"] for r in results} <= {f"w1@{HOST}", f"w2@{HOST}"}
    assert "ready" in (tmp_path / "w1.log").read_text()  # the banner, in the %n%I.log file

    stopped = multi("stopwait", "w1", "w2")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not list(tmp_path.glob("*.pid"))
    workers = {w["name"]: w["status"] for w in status(db, worker_env)["workers"]}
    assert workers == {f"w1@{HOST}": "stopped", f"w2@{HOST}": "stopped"}


def test_multi_start_refuses_a_running_name_and_cleans_up_a_stale_pidfile(multi, db, tmp_path):
    stale = tmp_path / "w1.pid"
    stale.write_text("999999\n")  # no process holds its lock
    first = multi("start", "w1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "removed the stale pidfile" in first.stdout
    pid = Pidfile(str(stale)).running_pid()
    assert pid is not None and pid != 999999

    again = multi("start", "w1")
    assert again.returncode != 0
    assert "already running" in again.stderr and "Traceback" not in again.stderr
    assert Pidfile(str(stale)).running_pid() == pid  # the first one still holds it

    shown = multi("show", "w1")
    assert f"w1@{HOST}: running (pid {pid})" in shown.stdout
    killed = multi("kill", "w1")
    assert killed.returncode == 0, killed.stderr
    assert not stale.exists()
    assert "not running" in multi("stop", "w1").stdout


def test_multi_start_refuses_a_path_with_no_store_unless_told_to_create_it(multi, tmp_path, worker_env):
    fresh = tmp_path / "typo.sqlite"
    args = ["multi", "start", "w1", str(fresh), "-A", "tests.support.tasks", "--pidfile", str(tmp_path / "%n.pid"),
            "--logfile", str(tmp_path / "%n.log")]
    refused = subprocess.run(litequeue_command() + args, cwd=tmp_path, env=worker_env, capture_output=True,
                             text=True, timeout=90)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"No store at {fresh}" in refused.stderr and "--create" in refused.stderr
    assert not fresh.exists() and not (tmp_path / "w1.pid").exists()  # nothing created, no worker started
    created = subprocess.run(litequeue_command() + args + ["--create"], cwd=tmp_path, env=worker_env,
                             capture_output=True, text=True, timeout=90)
    assert created.returncode == 0, created.stdout + created.stderr
    assert f"created a new, empty store at {fresh}" in created.stdout and fresh.exists()
    assert multi("stopwait", "w1").returncode == 0


def test_multi_start_reports_a_worker_that_exits_at_start(multi, tmp_path):
    failed = multi("start", "w1", start_args=("-A", "no_such_module"))
    assert failed.returncode == 1
    assert "FAILED: it exited at start" in failed.stderr and "no_such_module" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "w1.pid").exists()


def test_multi_start_passes_the_worker_options_on_to_each_worker(multi, app, db, tmp_path):
    from tests.support.tasks import pid

    options = ("--queue-order", "round-robin", "--max-memory-per-child", "1", "--max-tasks-per-child", "5",
               "-Q", "celery,other", "-B")
    shown = multi("show", "w1", start_args=options)
    assert "--queue-order round-robin" in shown.stdout and "--max-memory-per-child 1" in shown.stdout
    assert "--max-tasks-per-child 5" in shown.stdout and " -B" in shown.stdout

    started = multi("start", "w1", start_args=options)
    assert started.returncode == 0, started.stdout + started.stderr
    pids = {pid.delay().get(timeout=30) for _ in range(3)}
    assert len(pids) == 3  # a 1 KiB limit: every child is replaced after its job
    multi("stopwait", "w1")
    assert "grew past max_memory_per_child" in (tmp_path / "w1.log").read_text()


def test_multi_show_prints_the_running_workers_own_command_line(multi, app, db):
    started = multi("start", "w1")
    assert started.returncode == 0, started.stdout + started.stderr
    shown = multi("show", "w1", start_args=("-Q", "elsewhere"))  # not what w1 was started with
    assert "running (pid" in shown.stdout
    command = shown.stdout.splitlines()[1]
    assert " worker " in command and "elsewhere" not in command and "would start" not in command
    multi("stopwait", "w1")
    assert "would start: " in multi("show", "w1").stdout


def test_multi_show_of_worker_names_alone_shows_every_one(multi, tmp_path, worker_env):
    """`multi show w1 w2` (as `multi stopwait w1 w2`): w2 is a worker, not the database."""
    started = multi("start", "w1")
    assert started.returncode == 0, started.stdout + started.stderr
    shown = subprocess.run(litequeue_command() + ["multi", "show", "w1", "w2", "--pidfile", str(tmp_path / "%n.pid")],
                           cwd=tmp_path, env=worker_env, capture_output=True, text=True, timeout=90)
    assert shown.returncode == 0, shown.stderr
    states = {line.split(":")[0]: line for line in shown.stdout.splitlines() if line.startswith("> ")}
    assert [name.split("@")[0] for name in states] == ["> w1", "> w2"]
    assert "running (pid" in next(iter(states.values())) and "not running" in list(states.values())[1]
    multi("stopwait", "w1")


def test_multi_log_and_pid_files_are_private_whatever_the_umask(multi, db, tmp_path):
    old = os.umask(0o022)  # the usual umask: files would be 0644 (logs hold results and tracebacks)
    try:
        started = multi("start", "w1")
    finally:
        os.umask(old)
    assert started.returncode == 0, started.stdout + started.stderr
    assert oct(os.stat(tmp_path / "w1.pid").st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(tmp_path / "w1.log").st_mode & 0o777) == oct(0o600)
    multi("stopwait", "w1")


def test_multi_passes_every_worker_option_on_to_the_workers_it_starts(multi):
    shown = multi("show", "w1", start_args=("-P", "threads", "--autoscale", "4,1", "-B", "--queue-order",
                                            "round-robin", "--time-limit", "30"))
    assert shown.returncode == 0, shown.stderr
    would = shown.stdout.splitlines()[1]
    for words in ("-P threads", "--autoscale 4,1", " -B", "--queue-order round-robin", "--time-limit 30.0"):
        assert words in would, would


def test_multi_refuses_a_worker_name_with_a_control_character(multi, tmp_path):
    refused = multi("start", "w1\x1b[2J")
    assert refused.returncode == 1 and "control character \\x1b" in refused.stderr, refused.stderr
    assert not list(tmp_path.glob("*.pid"))
