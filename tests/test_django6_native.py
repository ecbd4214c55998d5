"""Django 6's own ``django.tasks`` (not the backport): the tiny Django project runs on a Python
>= 3.12 (this one, or one pyenv installed) in a virtualenv holding Django 6 and this checkout,
installed as a user installs it; its ``@task`` functions are enqueued through litequeue's backend
and run by a real worker from that virtualenv. The virtualenv is built once per test session.
With no such Python on the machine, the test says so and skips (under CI=true it fails)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.django_run import PROJECT, django_env, run_and_check

SOURCES = ("litequeue", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md")
DJANGO = "django>=6,<7"


def _new_enough(python: str) -> bool:
    try:
        run = subprocess.run([python, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return run.returncode == 0 and run.stdout.strip() == "True"


def find_python() -> str | None:
    """A Python >= 3.12 with venv: this one, one on PATH, or one pyenv installed."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [sys.executable, shutil.which("python3.13"), shutil.which("python3.12"),
                  *sorted(glob.glob(str(pyenv / "versions" / "3.1[2-9]*" / "bin" / "python3")), reverse=True)]
    return next((c for c in candidates if c and _new_enough(c)), None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Django 6 test: {reason}")
    pytest.skip(reason)


def _pip(venv: Path, *args: str) -> None:
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          *args], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        _unavailable(f"pip install {' '.join(args)} failed: {(run.stdout + run.stderr).strip()[-500:]}")


@pytest.fixture(scope="session")
def django6(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv of a Python >= 3.12 with Django 6 and this checkout (built from a copy of its
    sources, so nothing is written into the work tree)."""
    python = find_python()
    if python is None:
        _unavailable("needs a Python >= 3.12 for Django 6 (none here, on PATH, or in pyenv's versions)")
    venv = tmp_path_factory.mktemp("django6") / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    requirements = _runtime_requirements()
    _pip(venv, DJANGO, "setuptools>=70.1", *requirements)
    src = venv.parent / "src"
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (ROOT / name).is_dir() else {}))
    _pip(venv, "--no-deps", "--no-build-isolation", str(src))
    return venv


def _runtime_requirements() -> list[str]:
    """setup.cfg's install_requires (peewee, APScheduler, click, with their bounds)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]


@pytest.mark.timeout(900)
def test_django_6_native_task_api_runs_on_litequeue_with_a_real_worker(django6: Path, tmp_path: Path):
    python = str(django6 / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import django, django.tasks, litequeue; print(django.VERSION[0], litequeue.__file__)"
    probe = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, env=clean, cwd=tmp_path)
    major, where = probe.stdout.split()
    assert major == "6" and str(django6) in where  # Django's own django.tasks; litequeue as installed
    no_backport = subprocess.run([python, "-c", "import django_tasks"], capture_output=True, timeout=120, env=clean,
                                 cwd=tmp_path)
    assert no_backport.returncode != 0  # nothing but Django 6 provides the task API
    env = django_env(tmp_path, pythonpath=str(PROJECT))  # litequeue from the virtualenv, not the source tree
    run_and_check(env, python=python, command=[str(django6 / "bin" / "litequeue")])
