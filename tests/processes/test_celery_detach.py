"""``--detach`` from a program: ``app.worker_main(['worker', '--detach', ...])`` and
``python myapp.py worker --detach`` (``app.start()``) leave a worker running in the background
with the app exactly as the program built it, without running the program again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.observe import alive

PROGRAM = """
    import os
    from litequeue import Celery

    app = Celery('bg', broker='sqlite:///bg.sqlite')
    with open('body.log', 'a') as f:  # each run of the program's body leaves a line
        f.write(f'body {os.getpid()}\\n')
    CONFIGURED = 'by import'

    @app.task
    def where():
        return CONFIGURED, os.getpid()

    if __name__ == '__main__':
        CONFIGURED = 'by __main__'  # what only this run of the program knows
        {start}
        with open('body.log', 'a') as f:
            f.write(f'after {os.getpid()} {code}\\n')
"""


@pytest.fixture
def program(tmp_path):
    """program(start_line, *argv) writes bg.py with that start line, runs it, and returns
    (its result, the detached worker's pid); the worker is stopped at the end."""
    pids: list[int] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}

    def run(start: str, *argv: str) -> tuple[subprocess.CompletedProcess, int]:
        (tmp_path / "bg.py").write_text(textwrap.dedent(PROGRAM.replace("{start}", start)))
        done = subprocess.run([sys.executable, "bg.py", *argv], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        pid = int((tmp_path / "bg.pid").read_text())
        pids.append(pid)
        return done, pid

    yield run
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _ask_where(path: Path) -> list[str]:
    client = ("from litequeue import Celery\n"
              "app = Celery('client', broker='sqlite:///bg.sqlite')\n"
              "print(app.send_task('bg.where').get(timeout=30))\n")
    done = subprocess.run([sys.executable, "-c", client], cwd=path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + (path / "bg.log").read_text(errors="replace")
    return done.stdout.strip().strip("()[]").replace("'", "").split(", ")


def _stop(pid: int, pidfile: Path) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while alive(pid):
        assert time.monotonic() < deadline, "the detached worker did not stop"
        time.sleep(0.05)
    assert not pidfile.exists()  # the worker removes its pidfile when it exits


def test_worker_main_detach_runs_the_app_as_built_without_running_the_program_again(program, tmp_path):
    done, pid = program("code = app.worker_main(['worker', '--detach', '--pidfile', 'bg.pid', '-f', 'bg.log', "
                        "'-c', '1', '-l', 'info'])")
    assert f"Started in the background: pid {pid}," in done.stdout
    assert _ask_where(tmp_path)[0] == "by __main__"  # the app as the program built it, not imported again
    lines = (tmp_path / "body.log").read_text().splitlines()
    program_pid = lines[0].split()[1]
    assert lines == [f"body {program_pid}", f"after {program_pid} 0"]  # worker_main returned 0 to the program
    assert int(program_pid) != pid and alive(pid)
    assert os.getsid(pid) != os.getsid(0)  # its own session: closing the terminal does not reach it
    assert "ready" in (tmp_path / "bg.log").read_text()
    _stop(pid, tmp_path / "bg.pid")
    assert (tmp_path / "body.log").read_text().splitlines() == lines  # nothing ran the program's body again


def test_python_myapp_py_worker_detach_through_app_start(program, tmp_path):
    done, pid = program("code = app.start()", "worker", "--detach", "--pidfile", "bg.pid", "-f", "bg.log", "-c", "1")
    assert f"Started in the background: pid {pid}" in done.stdout
    assert _ask_where(tmp_path)[0] == "by __main__"
    program_pid = (tmp_path / "body.log").read_text().split()[1]
    # app.start() ends the program as the command does: nothing after it ran, in either process
    assert (tmp_path / "body.log").read_text().splitlines() == [f"body {program_pid}"]
    _stop(pid, tmp_path / "bg.pid")
    assert (tmp_path / "body.log").read_text().splitlines() == [f"body {program_pid}"]


def test_a_second_detach_on_a_held_pidfile_is_refused(program, tmp_path):
    _, pid = program("code = app.worker_main(['worker', '--detach', '--pidfile', 'bg.pid', '-f', 'bg.log', '-c', '1'])")
    again = subprocess.run([sys.executable, "bg.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0  # worker_main reports the refusal and returns its exit code
    assert f"held by a running process (pid {pid})" in again.stderr
    assert (tmp_path / "body.log").read_text().splitlines()[-1].endswith(" 1")
    _stop(pid, tmp_path / "bg.pid")
