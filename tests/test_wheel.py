"""The built wheel is what a user installs: into a clean virtualenv it brings the package, the
command, the license and the right dependencies, and the quickstart runs from it.

Offline: the wheel is built without fetching build tools, and its dependencies are copied into
the clean virtualenv from this test's own environment (``pip check`` then confirms that they
satisfy the wheel's requirements, bounds included)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("litequeue", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md")


def _can_build_offline() -> bool:
    """setuptools 70.1+ builds wheels by itself (older ones need the wheel package, and an
    isolated build would download them)."""
    from packaging.version import Version

    try:
        return Version(importlib.metadata.version("setuptools")) >= Version("70.1")
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _can_build_offline():
        pytest.skip("building the wheel offline needs setuptools>=70.1 (pip install -e '.[test]')")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:  # built from a copy: the build leaves nothing in the work tree
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(src)], check=True, capture_output=True, timeout=300)
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_is_named_litequeue_jobs_and_carries_the_license_and_the_package(wheel: Path):
    assert wheel.name.startswith("litequeue_jobs-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "litequeue/__init__.py" in names and "litequeue/store/sqlite.py" in names
    assert "litequeue/py.typed" in names  # type checkers read the package's annotations
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: litequeue-jobs" in metadata
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    runtime = [Requirement(r) for r in requires if "extra ==" not in r]
    assert {r.name for r in runtime} == {"peewee", "apscheduler", "click"}
    for req in runtime:  # every runtime dependency is bounded below the next major version
        assert any(spec.operator == "<" for spec in req.specifier), req
    extras: dict[str, set[str]] = {}
    for r in requires:
        req = Requirement(r)
        for extra in ("web", "postgres", "sqlalchemy", "django", "fastapi"):
            if req.marker is not None and req.marker.evaluate({"extra": extra}):
                extras.setdefault(extra, set()).add(req.name)
    # each extra brings what its guide's commands run (`uvicorn fastapi_app:api` for FastAPI)
    assert {"fastapi", "uvicorn"} <= extras["fastapi"] and "prometheus-client" in extras["web"]


def test_the_quickstart_runs_from_the_wheel_installed_in_a_clean_virtualenv(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    for name in ("peewee", "apscheduler", "click"):
        _copy_distribution(name, site, seen=set())
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr

    work = tmp_path / "work"  # away from the source tree: only the installed package can be imported
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    for name in ("quickstart.py", "tasks.py"):
        shutil.copy(ROOT / "examples" / name, work / name)
    run = subprocess.run([str(python), "quickstart.py"], cwd=work, env=env, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS   5" in run.stdout and "raised ZeroDivisionError" in run.stdout
    where = subprocess.run([str(python), "-c", "import litequeue; print(litequeue.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))
    assert (venv / "bin" / "litequeue").exists()


def _copy_distribution(name: str, site: Path, seen: set[str]) -> None:
    """Copy an installed distribution (and what it requires) from this environment into ``site``."""
    dist = importlib.metadata.distribution(name)
    key = dist.metadata["Name"].lower()
    if key in seen:
        return
    seen.add(key)
    here = Path(sysconfig.get_paths()["purelib"])
    for file in dist.files or ():
        source = Path(dist.locate_file(file))
        if ".." in file.parts or not source.is_file():
            continue  # scripts outside site-packages: not needed to import
        target = site / source.relative_to(here) if source.is_relative_to(here) else site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            _copy_distribution(req.name, site, seen)
