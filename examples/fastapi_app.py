"""FastAPI: send jobs and wait for results with the async API, never blocking the event loop.

    python examples/fastapi_app.py          # serves the app with uvicorn, calls it, runs a worker
    uvicorn fastapi_app:api                 # (from examples/) serve it, with a worker:
    litequeue worker fastapi_app.sqlite -A fastapi_app

``await task.adelay()`` runs the enqueue off the loop; ``await result.aget(timeout=)`` waits with
no thread per waiting request (one poller per event loop reads every awaited job).
"""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

from fastapi import FastAPI

from litequeue import AsyncResult, LiteQueue

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "fastapi_app.sqlite")

queue = LiteQueue(DB)
api = FastAPI()


@queue.task(name="fastapi_app.word_count")
def word_count(text):
    return len(text.split())


@api.post("/count")
async def count(text: str) -> dict:
    result = await word_count.adelay(text)
    return {"job": result.id}


@api.post("/count-many")
async def count_many(texts: list[str]) -> dict:
    results = await word_count.amap(texts)  # one transaction
    return {"jobs": [r.id for r in results]}


@api.get("/jobs/{job_id}")
async def job_result(job_id: str, wait: float = 0) -> dict:
    result = AsyncResult(job_id, app=queue)
    if wait:
        return {"result": await result.aget(timeout=wait)}
    return {"state": await result.astate()}


def _call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


if __name__ == "__main__":
    import uvicorn

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    job = _call(f"{base}/count?text=hello%20async%20world", "POST")["job"]
    jobs = _call(f"{base}/count-many", "POST", ["one", "two words", "and three words"])["jobs"]
    print("sent:", job, _call(f"{base}/jobs/{job}"))
    litequeue = os.path.join(os.path.dirname(sys.executable), "litequeue")
    worker = subprocess.Popen([litequeue if os.path.exists(litequeue) else "litequeue", "worker", DB,
                               "-A", "fastapi_app", "-c", "1", "-l", "warning"], cwd=HERE)
    try:
        counts = [_call(f"{base}/jobs/{j}?wait=30")["result"] for j in [job, *jobs]]
    finally:
        worker.terminate()
        worker.wait(30)
        server.should_exit = True
    print("word counts:", counts)
    assert counts == [3, 1, 2, 3]
