"""Celery's worker and beat flags, as Procfiles and systemd units pass them, on real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest

from tests.conftest import ROOT, litequeue_command
from tests.support import celery_tasks as ct
from tests.support.observe import alive

APP = ["-A", "tests.support.celery_tasks"]


@pytest.fixture
def env(celery_env):
    return celery_env


def run(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*litequeue_command(), *APP, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_celery_procfile_line_runs_and_names_the_flags_without_effect(env, tmp_path):
    result = ct.add.delay(20, 22)
    pidfile = tmp_path / "w1.pid"
    done = run(env, "worker", "-n", "w1@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-E",
               "-O", "fair", "--autoscale", "4,1", "--prefetch-multiplier", "1", "--pidfile", str(pidfile),
               "-l", "INFO", "--burst")
    assert done.returncode == 0, done.stderr
    assert result.get(timeout=10) == 42 and result.worker.startswith(f"w1@{socket.gethostname()}")
    for flag in ("--without-gossip", "--without-mingle", "--without-heartbeat", "--task-events"):
        assert f"Celery option {flag} has no effect" in done.stderr
    assert not pidfile.exists()  # removed when the worker exits


def test_a_pidfile_held_by_a_running_worker_refuses_a_second_one(env, tmp_path):
    pidfile = tmp_path / "worker.pid"
    first = subprocess.Popen([*litequeue_command(), *APP, "worker", "--pidfile", str(pidfile), "-c", "1"], cwd=ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(first.pid))
        second = run(env, "worker", "--pidfile", str(pidfile), "--burst")
        assert second.returncode == 1 and f"held by a running process (pid {first.pid})" in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        assert not pidfile.exists()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)


def test_detach_runs_the_worker_in_the_background_with_its_pidfile_and_log(env, tmp_path):
    pidfile, logfile = tmp_path / "bg.pid", tmp_path / "bg.log"
    started = run(env, "worker", "--detach", "--pidfile", str(pidfile), "-f", str(logfile), "-c", "1", "-l", "info")
    assert started.returncode == 0, started.stderr
    pid = int(pidfile.read_text())
    try:
        assert ct.add.delay(1, 2).get(timeout=30) == 3
        assert "ready" in logfile.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid))


def test_beat_accepts_celerys_schedule_file_and_refuses_another_scheduler(env, tmp_path):
    refused = run(env, "beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler")
    assert refused.returncode == 1 and "--scheduler" in refused.stderr and "litequeue schedule" in refused.stderr
    pidfile, logfile = tmp_path / "beat.pid", tmp_path / "beat.log"
    beat = subprocess.Popen([*litequeue_command(), *APP, "beat", "-s", str(tmp_path / "celerybeat-schedule"),
                             "--pidfile", str(pidfile), "-l", "info", "-f", str(logfile)], cwd=ROOT, env=env)
    try:
        wait_for(lambda: logfile.exists() and "beat: ready" in logfile.read_text())
        assert pidfile.read_text().strip() == str(beat.pid)
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.wait(30)
    assert beat.returncode == 0 and "Celery option --schedule-filename has no effect" in logfile.read_text()
    assert not (tmp_path / "celerybeat-schedule").exists() and not pidfile.exists()



@pytest.mark.parametrize("name", ["w1\x1b[2J@%h", "w1\u202e@%h", "w1@%h\n"])
def test_a_worker_name_with_a_control_character_is_refused_before_anything_happens(env, tmp_path, name):
    waiting = ct.add.delay(1, 2)
    pidfile = tmp_path / "w.pid"
    refused = run(env, "worker", "-n", name, "--pidfile", str(pidfile), "--purge", "--burst")
    assert refused.returncode == 1 and "contains the control character" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and "Give another name" in refused.stderr
    assert not pidfile.exists()
    assert ct.app.AsyncResult(waiting.id).job_state == "QUEUED"  # not purged, not run
