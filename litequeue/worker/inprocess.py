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
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import signals
from ..errors import ConfigurationError, LiteQueueError
from .consumer import Worker
from .options import POOLS, WorkerOptions
from .stopping import in_main_thread

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
        self._ctrl_c = CtrlC(self)

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
        self._ctrl_c.take()
        return self

    def stop(self, cold: bool = False, timeout: float | None = None) -> None:
        """Stop the worker: warm (finish running jobs) by default; ``cold`` hands running jobs
        back to the queue at once. With ``timeout`` (seconds), a warm stop turns cold after that
        long. Ctrl-C while a warm stop waits turns it cold (the jobs are handed back)."""
        if self.worker is None or self._thread is None:
            atexit.unregister(self.stop)
            return
        self.worker.request_stop(cold=cold)
        deadline = None if timeout is None else time.monotonic() + timeout
        # Waiting on an Event, not Thread.join: a join interrupted by Ctrl-C leaves the thread
        # looking finished on Python 3.11 (its lock half-released), and we would not wait for it.
        while not self._wait_done(0.05):
            if deadline is not None and time.monotonic() >= deadline:
                self.worker.request_stop(cold=True)
                deadline = None
        self._thread.join()
        self._ctrl_c.tell()
        self._ctrl_c.give_back()
        atexit.unregister(self.stop)

    def _wait_done(self, seconds: float) -> bool:
        """Wait for the worker's thread to finish its loop; a KeyboardInterrupt meanwhile (where
        this worker does not handle Ctrl-C itself) makes the stop cold."""
        try:
            return self._done.wait(seconds)
        except KeyboardInterrupt:
            self._ctrl_c.pressed_while_stopping()
            return self._done.is_set()

    def running_jobs(self) -> int:
        """How many jobs the pool holds now: running, or taken and about to say so (safe to ask
        from any thread)."""
        pool = self.worker.pool if self.worker is not None else None
        return pool.holding() if pool is not None else 0

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> InProcessWorker:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, *exc_info: Any) -> None:
        self._ctrl_c.announce_wait(kind is KeyboardInterrupt)
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


class CtrlC:
    """Ctrl-C for a program running an in-process worker, as for the worker command: the first
    begins a warm stop (running jobs finish), and any later one, or one while ``stop()`` waits,
    makes it cold (running jobs are handed back to the queue at once).

    The worker's state changes in the signal handler itself, before anything is raised, so a
    second Ctrl-C arriving at any moment (while the first's KeyboardInterrupt unwinds the program,
    inside ``stop()``, inside a stop request) makes the stop cold. The first Ctrl-C then reaches
    the program as before (KeyboardInterrupt, or the handler it had, such as asyncio's); once a
    stop has begun, Ctrl-C raises nothing, so the stop goes on to hand the jobs back. Installed
    only in the main thread over a Python-level handler; given back when the worker stops."""

    def __init__(self, owner: InProcessWorker) -> None:
        self.owner = owner
        self.previous: Any = None
        self.handler: Callable[[int, Any], None] | None = None
        self.seen = False  # a Ctrl-C arrived while the worker ran
        self.made_cold = False  # a Ctrl-C made the stop cold (to tell, once the jobs are back)

    def take(self) -> None:
        if not in_main_thread() or not callable(signal.getsignal(signal.SIGINT)):
            return  # another thread's worker, or a program that ignores or leaves Ctrl-C to the system
        self.handler = self._on_signal
        self.previous = signal.signal(signal.SIGINT, self.handler)

    def give_back(self) -> None:
        if self.handler is not None and in_main_thread() and signal.getsignal(signal.SIGINT) is self.handler:
            signal.signal(signal.SIGINT, self.previous)
            self.handler = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        worker = self.owner.worker
        if worker is not None and not self.owner._done.is_set():
            if worker.stopping:  # the second, or one while stop() waits: cold, and nothing raised
                self.pressed_while_stopping()
                return
            self.seen = True
            worker.request_stop()  # the first: a warm stop begins, and the program hears of it below
        if callable(self.previous):
            self.previous(signum, frame)

    def pressed_while_stopping(self) -> None:
        """Ctrl-C during a warm stop: hand the running jobs back now."""
        worker = self.owner.worker
        if worker is not None and not worker.cold:
            self.made_cold = True
            worker.request_stop(cold=True)

    def announce_wait(self, interrupted: bool) -> None:
        """After the first Ctrl-C: say what the stop waits for, and how to stop now."""
        worker = self.owner.worker
        running = self.owner.running_jobs()
        if (interrupted or self.seen) and running and worker is not None and not worker.cold:
            print(f"litequeue: waiting for {running} running job(s) (Ctrl-C again to hand them back).",
                  file=sys.stderr)

    def tell(self) -> None:
        """Once the worker has stopped: say how many running jobs a Ctrl-C handed back (not
        from the signal handler: a print there could break into a print of the program's)."""
        worker = self.owner.worker
        if self.made_cold and worker is not None:
            print(f"litequeue: handing {worker.handed_back} running job(s) back to the queue.", file=sys.stderr)
            self.made_cold = False


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
