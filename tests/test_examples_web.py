"""The web and ORM recipes of the docs (docs/guide/web-apps-and-orms.md) run as they are: each
example exits 0, having checked its own outcome (a real burst worker ran its jobs)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(("example", "needs"), [
    ("sqlalchemy_app.py", ("sqlalchemy",)),
    ("django_example.py", ("django", "django_tasks")),
    ("flask_app.py", ("flask",)),
    ("fastapi_app.py", ("fastapi", "uvicorn")),
])
def test_the_example_runs(example: str, needs: tuple[str, ...]):
    for module in needs:
        if module == "django_tasks" and importlib.util.find_spec("django.tasks") is not None:
            continue  # Django 6 has the task API itself
        pytest.importorskip(module)
    run = subprocess.run([sys.executable, example], cwd=ROOT / "examples", capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
