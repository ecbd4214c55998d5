"""What the worker does beside a ``-P solo`` job, which runs in the worker's loop itself.

Before the job runs, its STARTED mark is written (its state and ``inspect active`` are true while
it runs). While it runs, a thread with its own store connection (the store keeps one per thread)
does what the loop would: heartbeats (the worker's row and the leases of its jobs, so a long job
is not rescued and run twice), hears revokes (the store's wake-up) and stop requests, says at once
that a warm stop waits for the job, and asks the pool to interrupt the job for a revoke with
terminate or a cold stop. The thread acts only while a job runs, and the loop does nothing else
then, so the two never change the worker's state at once. Between jobs it sleeps, watching
nothing (the loop's wake-ups are the loop's): it is started once, as a thread per job would cost
more than a short job.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..store import Job
from ..store.wakeup import drain_socket
from . import housekeeping

if TYPE_CHECKING:
    from .consumer import Worker
    from .solo import SoloPool

TICK = 0.05  # seconds between looks at the stop flags (a signal's flag is set just after its wake-up byte)


class SoloGuard:
    """Marks each solo job STARTED and watches over it, on a thread of its own, while it runs."""

    def __init__(self, worker: Worker, pool: SoloPool, on_stop: Callable[[Worker], None]) -> None:
        self.worker = worker
        self.pool = pool
        self.on_stop = on_stop  # lifecycle.on_stop_request: says so, gives back the jobs not begun
        self._reader, self._writer = socket.socketpair()  # wakes the thread: a job began, or closing
        self._reader.setblocking(False)
        self._lock = threading.Lock()  # held by the thread while it acts for the worker
        self._active = False  # a job runs: the thread may act
        self._closing = False
        self._thread: threading.Thread | None = None

    def begin(self, job: Job) -> None:
        """Before ``job`` runs, on the loop's thread: write its STARTED mark, start watching."""
        worker = self.worker
        worker.note_began()
        marks = worker.marks.take_all()
        if worker.store_call(worker.app.store.finish, worker.owner, [], list(marks.values())) is None:
            worker.marks.put_back(marks)  # the store is busy: written with the job's outcome
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="litequeue-solo-guard", daemon=True)
            self._thread.start()
        with self._lock:
            self._active = True
        self._wake()

    def end(self) -> None:
        """The job is over: the thread stops acting (once done with what it is doing, such as a
        store call)."""
        with self._lock:
            self._active = False

    def close(self) -> None:
        self.end()
        self._closing = True
        if self._thread is not None:
            self._wake()
            self._thread.join()
        self._reader.close()
        self._writer.close()

    def _wake(self) -> None:
        try:
            self._writer.send(b"!")
        except OSError:
            pass  # the buffer is full: the thread is awake anyway

    def _watch(self) -> None:
        relaxed = False
        while not self._closing:
            watched: list[Any] = [self._reader]
            if self._active:
                watched += [self.worker.stop_requests, *([self.worker.listener] if self.worker.listener else [])]
            ready = set(select.select(watched, [], [], TICK if self._active else None)[0])
            if self._reader in ready:
                drain_socket(self._reader.fileno())
            with self._lock:
                if self._active and not self._closing:
                    relaxed = relaxed or self.worker.store_call(self._relax, default=False)
                    self._look(ready)

    def _relax(self) -> bool:
        """This thread's connection, as the loop's, commits without waiting for the disk."""
        self.worker.app.store.relax_durability()
        return True

    def _look(self, ready: set[Any]) -> None:
        worker = self.worker
        if worker.stop_requests in ready:
            worker.stop_requests.drain()
        if worker.stopping:
            self.on_stop(worker)  # (once for each of warm and cold)
        if worker.cold:
            self.pool.interrupt("cold")
        if worker.heard_wakeup(ready) or worker.revokes.owed_in() == 0.0:
            worker.store_call(worker.look_for_revokes)
        if housekeeping.beat_due(worker):
            worker.store_call(housekeeping.heartbeat, worker)
