"""Celery settings with no effect here are said once per process, where they would matter: when a
worker or beat starts, not by every command that loads the app; a program using the app as a
library hears once, when it sets one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import litequeue_command

NOTICE = "Celery setting broker_pool_limit has no effect with litequeue; ignored."
APP = '''from litequeue import Celery

app = Celery("noisy", broker_pool_limit=10)


@app.task
def add(x, y):
    return x + y
'''


def test_settings_without_effect_are_said_by_a_worker_and_beat_not_by_every_command(celery_env, tmp_path):
    (tmp_path / "noisy_app.py").write_text(APP)
    env = {**celery_env, "PYTHONPATH": str(tmp_path) + os.pathsep + celery_env["PYTHONPATH"]}

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    library = "import noisy_app; noisy_app.add.delay(1, 2); noisy_app.app.conf.broker_pool_limit = 20"
    assert run(sys.executable, "-c", library).count(NOTICE) == 1  # a library user hears once
    call = ["call", celery_env["CELERY_BROKER_URL"], "noisy_app.add", "--args", "[2, 3]"]
    for command in (["status"], ["queues"], call):
        assert "has no effect" not in run(*litequeue_command(), "-A", "noisy_app", *command), command
    assert run(*litequeue_command(), "-A", "noisy_app", "worker", "--burst").count(NOTICE) == 1
    assert _beat_log(env, tmp_path).count(NOTICE) == 1


def _beat_log(env: dict, tmp_path) -> str:
    logfile = tmp_path / "beat.log"
    beat = subprocess.Popen([*litequeue_command(), "-A", "noisy_app", "beat", "-l", "info", "-f", str(logfile)],
                            cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (logfile.exists() and "beat: ready" in logfile.read_text()):
            assert time.monotonic() < deadline and beat.poll() is None, "beat did not start"
            time.sleep(0.05)
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.wait(30)
    return logfile.read_text()
