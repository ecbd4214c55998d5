"""A FastAPI app over the support tasks, served by a real uvicorn in tests/test_async_api.py."""

import threading

from fastapi import FastAPI

from litequeue import AsyncResult
from tests.support.tasks import add, app

api = FastAPI()


@api.post("/add")
async def send_add(x: int, y: int) -> dict:
    result = await add.adelay(x, y)
    return {"id": result.id}


@api.post("/bulk")
async def send_many(n: int) -> dict:
    results = await app.aenqueue_many([(add, (i, i)) for i in range(n)])
    return {"ids": [r.id for r in results]}


@api.get("/result/{job_id}")
async def result(job_id: str, timeout: float = 30) -> dict:
    return {"result": await AsyncResult(job_id, app=app).aget(timeout=timeout)}


@api.get("/threads")
async def threads() -> dict:
    """This process's threads, and the results being awaited on its event loop right now."""
    from litequeue.aio import _poller

    waiting = sum(len(futures) for futures in _poller(app).waiting.values())
    return {"threads": threading.active_count(), "waiting": waiting}
