"""A worker's PostgreSQL wake-ups: LISTEN on a connection of its own, with no thread.

The worker waits on one descriptor: a selector of the listener's own (epoll, kqueue) holding the
LISTEN connection's socket and a self-pipe. That descriptor stays the same when the connection
is replaced, and nothing runs beside the worker's loop, so forking pool children stays safe
(Python 3.12+ warns when a process with threads forks).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections.abc import Callable
from typing import Any

RETRY_MAX = 5.0  # seconds between attempts to reconnect a lost LISTEN connection


def supported() -> bool:
    """Whether this platform's selector has a descriptor of its own to wait on."""
    return hasattr(selectors.DefaultSelector, "fileno")


class Listener:
    """Wait on ``fileno()``, then ``drain()``; call ``tend()`` on every turn of the worker's loop
    (it reconnects a dropped connection, with backoff); ``close()`` when done.

    ``connect()`` returns a new autocommit connection that is already listening; ``errors`` are
    the driver's exceptions for a connection that failed or dropped.
    """

    def __init__(self, connect: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> None:
        self._connect = connect
        self._errors = errors + (OSError,)
        self._inner = selectors.DefaultSelector()
        self._poke_r, self._poke_w = os.pipe()
        for fd in (self._poke_r, self._poke_w):
            os.set_blocking(fd, False)
        self._inner.register(self._poke_r, selectors.EVENT_READ)
        self._conn: Any = None
        self._fd = -1
        self._backoff = 0.0
        self._retry_at = 0.0
        try:
            self._attach(connect())  # the first connection fails loudly, at worker start
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        return self._inner.fileno()

    def drain(self) -> None:
        """Consume every pending wake-up (and notice a connection the server dropped)."""
        with contextlib.suppress(OSError):
            while os.read(self._poke_r, 4096):
                pass
        if self._conn is None:
            return
        conn = self._conn
        try:
            conn.poll()
        except self._errors:
            self._drop()
            return
        conn.notifies.clear()
        if any(notice.startswith("FATAL") for notice in conn.notices):
            self._drop()  # the server is ending this connection (its socket closes just after)
        else:
            conn.notices.clear()

    def tend(self) -> None:
        """Reconnect a dropped connection once its backoff allows; once back, wake the worker
        to catch up on jobs sent while it could not hear them. Cheap while connected."""
        if self._conn is not None or time.monotonic() < self._retry_at:
            return
        try:
            conn = self._connect()
        except self._errors:
            self._backoff = min(max(self._backoff * 2, 0.5), RETRY_MAX)
            self._retry_at = time.monotonic() + self._backoff
            return
        self._backoff = 0.0
        self._attach(conn)
        self._poke()

    def close(self) -> None:
        self._drop()
        self._inner.close()
        for fd in (self._poke_r, self._poke_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _attach(self, conn: Any) -> None:
        self._conn, self._fd = conn, conn.fileno()
        self._inner.register(self._fd, selectors.EVENT_READ)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):  # unregistered before its socket closes
            self._inner.unregister(self._fd)
        with contextlib.suppress(Exception):
            conn.close()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            os.write(self._poke_w, b"!")
