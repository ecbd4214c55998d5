"""A full worker (pool, heartbeats, eta, retries) running in a background thread of the calling
program: for scripts and desktop apps that want background jobs without a second command.

    with app.worker(concurrency=2):
        result = add.delay(2, 3)
        print(result.get(timeout=10))

The worker's main loop runs in a thread; its pool children are separate processes started with
``forkserver`` (or ``spawn`` where that is unavailable), because forking a program that has
threads is unsafe. Children then import the app again, so the app must be importable: created at
module level, in a module or in the main script (guard the script's own work with
``if __name__ == "__main__":``, as multiprocessing requires).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

from .. import signals
from ..errors import ConfigurationError, LiteQueueError
from .consumer import Worker
from .options import POOLS, WorkerOptions

if TYPE_CHECKING:
    from ..app import LiteQueue

log = logging.getLogger("litequeue.worker")
_numbers = itertools.count(1)
_START_METHODS = ("fork", "forkserver", "spawn")


def default_start_method() -> str:
    """forkserver where the platform has it (Linux, macOS), else spawn (Windows)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class InProcessWorker:
    """A worker in a background thread. ``start()`` / ``stop()``, or use it as a context manager.

    Options are the command line's: ``concurrency``, ``pool`` (``"threads"`` runs jobs in
    threads of this program: no child processes, no re-import of the app), ``queues``,
    ``exclude``, ``name``, ``time_limit``, ``soft_time_limit``, ``max_tasks_per_child``,
    ``max_memory_per_child``, ``queue_order``, and ``start_method`` for the pool children.
    """

    def __init__(self, app: LiteQueue, *, start_method: str | None = None, queues: Any = None,
                 exclude: Any = (), name: str | None = None, **options: Any) -> None:
        start_method = start_method or default_start_method()
        if start_method not in _START_METHODS:
            raise ConfigurationError(f"start_method must be one of {', '.join(_START_METHODS)}, not {start_method!r}.")
        unknown = set(options) - {"concurrency", "time_limit", "soft_time_limit", "max_tasks_per_child",
                                  "max_memory_per_child", "queue_order", "pool"}
        if unknown:
            raise ConfigurationError(f"Unknown app.worker() option(s) {sorted(unknown)}.")
        if options.get("pool", "prefork") not in POOLS:
            raise ConfigurationError(f"pool must be one of {', '.join(POOLS)}, not {options['pool']!r}.")
        name = name or f"worker-{os.getpid()}-{next(_numbers)}@{socket.gethostname()}"
        self.options = WorkerOptions(queues=_names(queues), exclude=_names(exclude) or (), name=name,
                                     start_method=start_method, **options)
        self.app = app
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done = threading.Event()  # set when the worker's thread has finished its loop
        self._error: BaseException | None = None

    @property
    def name(self) -> str:
        return self.options.name or ""

    def start(self, timeout: float = 60.0) -> InProcessWorker:
        """Start the worker and wait until it is ready to run jobs. Raises what stopped it
        from starting (a bad database path, an app its children cannot import, ...)."""
        if self._thread is not None:
            raise ConfigurationError(f"The in-process worker {self.name} was already started; create a new one.")
        self.worker = Worker(self.app, self.options)
        signals.worker_ready.connect(self._on_ready)
        self._thread = threading.Thread(target=self._run, name=f"litequeue-{self.name}", daemon=True)
        self._thread.start()
        try:
            while not self._ready.wait(0.05):
                if not self._thread.is_alive() or timeout <= 0:
                    break
                timeout -= 0.05
        finally:
            signals.worker_ready.disconnect(self._on_ready)
        if not self._ready.is_set():
            self._thread.join(5)
            if self._error is not None:
                raise self._error
            raise ConfigurationError(f"The in-process worker {self.name} did not become ready; see its log.")
        atexit.register(self.stop)
        return self

    def stop(self, cold: bool = False, timeout: float | None = None) -> None:
        """Stop the worker: warm (finish running jobs) by default; ``cold`` hands running jobs
        back to the queue at once. With ``timeout`` (seconds), a warm stop turns cold after that
        long. Ctrl-C while a warm stop waits turns it cold (the jobs are handed back)."""
        atexit.unregister(self.stop)
        if self.worker is None or self._thread is None:
            return
        self.worker.request_stop(cold=cold)
        # Waiting on an Event, not Thread.join: a join interrupted by Ctrl-C leaves the thread
        # looking finished on Python 3.11 (its lock half-released), and we would not wait for it.
        try:
            self._done.wait(timeout)
        except KeyboardInterrupt:
            print(f"litequeue: handing {self._running()} running job(s) back to the queue.", file=sys.stderr)
        if not self._done.is_set():
            self.worker.request_stop(cold=True)
            self._done.wait()
        self._thread.join()

    def _running(self) -> int:
        pool = self.worker.pool if self.worker is not None else None
        return len(pool.running()) if pool is not None else 0

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> InProcessWorker:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, *exc_info: Any) -> None:
        if kind is KeyboardInterrupt and self._running():
            print(f"litequeue: waiting for {self._running()} running job(s) (Ctrl-C again to hand them back).",
                  file=sys.stderr)
        self.stop()

    def _on_ready(self, sender: Any = None, **kwargs: Any) -> None:
        if sender is self.worker:
            self._ready.set()

    def _run(self) -> None:
        assert self.worker is not None
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported to start(), or logged
            self._error = exc
            if self.worker.pool is None:  # it failed while starting: nothing else will close these
                self.worker.stop_requests.close()
            if self._ready.is_set():
                log.exception("In-process worker %s stopped on an error.", self.name)
        finally:
            _close_thread_connection(self.app)
            self._done.set()

    def __repr__(self) -> str:
        state = "running" if self.is_alive() else "stopped"
        return f"<InProcessWorker {self.name} {state}>"


def _close_thread_connection(app: LiteQueue) -> None:
    # The store keeps one connection per thread; close this thread's, leave the program's open.
    try:
        app.store.db.close()
    except LiteQueueError:
        pass


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    names = tuple(v.strip() for v in value if v.strip())
    return names or None
