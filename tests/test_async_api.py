"""The async API: ``await task.adelay()``, ``aapply_async()``, bulk sends and
``await result.aget()``, in a FastAPI app served by a real uvicorn, with a real worker. Many
requests wait for results at once on one event loop without a thread each."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(worker_env, tmp_path):
    port = free_port()
    log = open(tmp_path / "uvicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.support.asgi_app:api", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/threads", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "uvicorn.log").read_text()) from None
            time.sleep(0.05)
    yield base
    proc.terminate()
    proc.wait(30)
    log.close()


def call(url: str, method: str = "GET", timeout: float = 60) -> dict:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def test_a_fastapi_app_sends_with_adelay_and_waits_with_aget(app, server, start_worker):
    sent = call(f"{server}/add?x=2&y=3", "POST")
    assert app.AsyncResult(sent["id"]).job_state == "QUEUED"
    start_worker("-c", "1")
    assert call(f"{server}/result/{sent['id']}") == {"result": 5}


def test_many_requests_wait_for_results_at_once_without_a_thread_each(app, server, start_worker):
    ids = call(f"{server}/bulk?n=60", "POST")["ids"]
    assert len(ids) == 60 and all(app.AsyncResult(i).job_state == "QUEUED" for i in ids)
    with ThreadPoolExecutor(len(ids)) as pool:
        waits = [pool.submit(call, f"{server}/result/{i}") for i in ids]
        deadline = time.monotonic() + 60
        while (seen := call(f"{server}/threads"))["waiting"] < len(ids):  # every request is waiting
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        assert seen["threads"] < 20  # 60 waiters, a handful of threads: none per waiter
        start_worker("-c", "2")
        results = [w.result(timeout=120) for w in waits]
    assert [r["result"] for r in results] == [i + i for i in range(60)]


def test_aget_times_out_with_litequeues_timeout_error(app):
    from litequeue.errors import TimeoutError as LiteQueueTimeout
    from tests.support.tasks import add

    async def scenario() -> str:
        result = await add.aapply_async((1, 1), countdown=3600)
        with pytest.raises(LiteQueueTimeout, match="still (PENDING|QUEUED)"):
            await result.aget(timeout=0.2)
        return result.id

    assert app.AsyncResult(asyncio.run(scenario())).job_state == "SCHEDULED"
