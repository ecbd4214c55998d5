"""A real ``litequeue dashboard`` process on the test's store, and a real headless Chromium driven
by Selenium (Debian's chromium and chromium-driver; nothing is downloaded). Without them the
browser tests skip, except under CI=true, where .ci/run installs them and they must run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, litequeue_command

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1360,900")
# Where the tests save a screenshot of each page: build/screenshots (not kept in git) unless
# $LQ_SCREENSHOTS names another folder; the docs' are made with LQ_SCREENSHOTS=docs/screenshots.
SCREENSHOTS = Path(os.environ.get("LQ_SCREENSHOTS") or ROOT / "build" / "screenshots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardProcess:
    """``litequeue dashboard DB -A tests.support.tasks`` on a free port, its output in a file."""

    def __init__(self, db: str, env: dict, log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        cmd = litequeue_command() + ["dashboard", db, "-A", "tests.support.tasks", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("the dashboard did not start:\n" + log_path.read_text())

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
        request = urllib.request.Request(self.url.rstrip("/") + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def json(self, path: str) -> object:
        status, body, _ = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start_dashboard(db, worker_env, tmp_path):
    started: list[DashboardProcess] = []

    def start(*args: str) -> DashboardProcess:
        d = DashboardProcess(db, worker_env, tmp_path / f"dashboard{len(started)}.log", *args)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def dashboard(app, start_dashboard):
    """A dashboard on the test's store (created first by the app fixture's first job)."""
    app.store.queue_depths()  # opens (and so creates) the store before the dashboard reads it
    return start_dashboard()


def _have_browser() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@pytest.fixture
def browser():
    if not _have_browser():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: .ci/run installs chromium, chromium-driver and selenium.")
        pytest.skip("needs chromium, chromium-driver and selenium (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> None:
    """Save what the browser shows as SCREENSHOTS/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
