"""Typed tasks: ``@app.task`` keeps the function's signature, so mypy and pyright check calls
(``task(...)``, ``delay``, ``s``, ``adelay``) and results (``AsyncResult[R].get()``). A file of
correct calls must pass; in a file of wrong calls, every line marked ``# error`` is reported."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HERE = ROOT / "tests" / "typing"


def marked_lines(path: Path) -> set[int]:
    return {n for n, line in enumerate(path.read_text().splitlines(), 1) if line.rstrip().endswith("# error")}


def mypy(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", "/dev/null", "--no-error-summary",
                           str(path.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True, timeout=300)


def pyright(path: Path) -> subprocess.CompletedProcess:
    command = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("pyright is not installed (pip install -e '.[test]')")
    run = subprocess.run([command, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if "error:" not in run.stdout and run.returncode not in (0, 1):  # it could not start (no Node.js)
        pytest.skip(f"pyright could not run: {(run.stdout + run.stderr)[-300:]}")
    return run


def reported_lines(output: str, path: Path) -> set[int]:
    pattern = re.compile(rf"{re.escape(path.name)}:(\d+)(?::\d+)?:? -? ?error")
    return {int(m.group(1)) for m in pattern.finditer(output)}


def test_the_package_is_marked_typed():
    assert (ROOT / "litequeue" / "py.typed").exists()


def test_mypy_accepts_correct_calls():
    run = mypy(HERE / "good.py")
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_reports_every_wrong_call():
    bad = HERE / "bad.py"
    run = mypy(bad)
    assert reported_lines(run.stdout, bad) == marked_lines(bad), run.stdout


def test_pyright_accepts_correct_calls_and_reports_every_wrong_one():
    good, bad = HERE / "good.py", HERE / "bad.py"
    run = pyright(good)
    assert run.returncode == 0, run.stdout + run.stderr
    run = pyright(bad)
    assert reported_lines(run.stdout, bad) == marked_lines(bad), run.stdout
