"""The documentation builds in strict mode (MkDocs + mkdocstrings): a broken link, a missing
page or a reference to an object that does not exist fails the build, and so this test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def build(root: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(out)], cwd=root, capture_output=True, text=True, timeout=300)


def test_the_docs_build_in_strict_mode(tmp_path):
    run = build(ROOT, tmp_path / "site")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "reference" / "task" / "index.html").exists()


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "litequeue").symlink_to(ROOT / "litequeue")
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    run = build(copy, tmp_path / "site")
    assert run.returncode != 0 and "no-such-page.md" in run.stdout + run.stderr
