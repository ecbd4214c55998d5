"""The code's own checks, run with the suite so CI holds them: ruff's lint and mypy's types (their
settings live in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=110)


def test_ruff_finds_nothing_to_fix():
    checked = run("ruff", "check", "litequeue", "tests", "scripts", "examples")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_finds_no_type_errors_in_the_package():
    checked = run("mypy", "--cache-dir", "/dev/null")  # files and settings from pyproject.toml
    assert checked.returncode == 0, checked.stdout + checked.stderr
