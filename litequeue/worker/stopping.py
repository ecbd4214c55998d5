"""Stop requests for a worker's main loop: signals (warm, then cold) or ``request()`` from a thread.

A socket pair wakes the loop's select at once: signals write to it through
``signal.set_wakeup_fd``, and ``request()`` writes to it directly.
"""

from __future__ import annotations

import signal
import socket
import threading
from typing import Any


class StopRequests:
    """``stopping`` (warm: finish running jobs, claim nothing new) and ``cold`` (release running
    jobs and exit now). The first SIGTERM/SIGINT asks for warm, a second one or SIGQUIT for cold."""

    def __init__(self) -> None:
        self.stopping = False
        self.cold = False
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous: dict[int, Any] = {}  # the handlers the signal handlers replaced

    def install_signal_handlers(self) -> None:
        """Take SIGTERM, SIGINT and SIGQUIT (only possible in the main thread; an in-process worker
        in another thread is stopped through ``request()``)."""
        if not in_main_thread():
            return
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            self._previous[signum] = signal.signal(signum, self._on_signal)

    @property
    def by_signal(self) -> bool:
        """Whether signals reach this worker (its loop runs in the main thread)."""
        return bool(self._previous)

    def fileno(self) -> int:
        """Readable when a stop was asked for (for the loop's select)."""
        return self._reader.fileno()

    def drain(self) -> None:
        try:
            while self._reader.recv(64):
                pass
        except OSError:
            pass

    def request(self, cold: bool = False) -> None:
        """Ask for a warm (or cold) stop from any thread; wakes the loop at once.

        Flags are only ever set, never read and written back: a signal handler that asks for a
        cold stop while this very call (a warm request) runs in the same thread is never undone."""
        if cold:
            self.cold = True
        self.stopping = True
        try:
            self._writer.send(b"!")
        except OSError:
            pass  # closed already, or the buffer is full (the loop wakes anyway)

    def close(self) -> None:
        """Give back the signal handlers (a worker run inside a longer program leaves none of
        its own behind) and close the socket pair."""
        if self._previous and in_main_thread():
            signal.set_wakeup_fd(-1)
            for signum, previous in self._previous.items():
                if signal.getsignal(signum) == self._on_signal:
                    signal.signal(signum, previous)
            self._previous = {}
        self._writer.close()
        self._reader.close()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGQUIT or self.stopping:
            self.cold = True
        self.stopping = True


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
