"""The async API: sending jobs and waiting for results without blocking an event loop.

Sending (``await task.adelay()``, ``aapply_async()``, ``app.aenqueue_many()``...) runs the same
synchronous send in the loop's default executor: an enqueue is one short write, but on a busy
SQLite file it may wait for the write lock, and the loop must not wait with it. The context
(``enqueue_in`` blocks, the current request) goes along.

Waiting (``await result.aget()``) costs no thread per waiter: one poller per event loop and app
reads the state of every awaited job in one executor call per tick, backing off from 1 ms to
``interval`` while nothing finishes, and starting again at 1 ms when a new waiter arrives.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import states

if TYPE_CHECKING:
    from .app import LiteQueue
    from .store import Job

T = TypeVar("T")
_FIRST_PAUSE = 0.001


async def in_executor(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the running loop's default executor, with this context."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def wait_until_ready(app: LiteQueue, job_id: str, timeout: float | None, interval: float) -> Job | None:
    """The job once it is over (a ready state); None when ``timeout`` seconds pass first."""
    poller = _poller(app)
    future = poller.watch(job_id, interval)
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        return None
    finally:
        if not future.done():
            future.cancel()  # the poller forgets it


class Poller:
    """Reads the awaited jobs of one app for one event loop, all in one executor call per tick."""

    def __init__(self, app: LiteQueue) -> None:
        self.app = app
        self.waiting: dict[str, list[asyncio.Future]] = {}
        self.arrived = asyncio.Event()
        self.longest_pause = 0.05
        self.task: asyncio.Task | None = None

    def watch(self, job_id: str, interval: float) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(job_id, []).append(future)
        self.longest_pause = min(self.longest_pause, interval) if self.task else interval
        self.arrived.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return future

    async def _run(self) -> None:
        pause = _FIRST_PAUSE
        while self._forget_abandoned():
            self.arrived.clear()
            try:
                jobs = await in_executor(self._read, list(self.waiting))
            except Exception as exc:  # the store failed: every waiter hears of it
                self._settle_all(exc)
                return
            for job_id, job in jobs.items():
                if job is not None and job.state in states.READY_STATES:
                    for future in self.waiting.pop(job_id, ()):
                        if not future.done():
                            future.set_result(job)
            try:
                await asyncio.wait_for(self.arrived.wait(), pause)
                pause = _FIRST_PAUSE
            except TimeoutError:
                pause = min(pause * 2, self.longest_pause)

    def _read(self, job_ids: list[str]) -> dict[str, Job | None]:
        store = self.app.store
        return {job_id: store.get(job_id) for job_id in job_ids}

    def _forget_abandoned(self) -> bool:
        """Drop waiters that gave up (timed out, cancelled); whether any are left."""
        for job_id in list(self.waiting):
            live = [f for f in self.waiting[job_id] if not f.done()]
            if live:
                self.waiting[job_id] = live
            else:
                del self.waiting[job_id]
        return bool(self.waiting)

    def _settle_all(self, exc: BaseException) -> None:
        for futures in self.waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
        self.waiting.clear()


_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Poller]] = weakref.WeakKeyDictionary()


def _poller(app: LiteQueue) -> Poller:
    per_app = _pollers.setdefault(asyncio.get_running_loop(), {})
    poller = per_app.get(id(app))
    if poller is None or poller.app is not app:
        poller = per_app[id(app)] = Poller(app)
    return poller
