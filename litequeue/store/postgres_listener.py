"""A worker's PostgreSQL wake-ups: LISTEN on a connection of its own, with no thread.

The worker waits on one descriptor: a selector of the listener's own (epoll, kqueue) holding the
LISTEN connection's socket and a self-pipe. That descriptor stays the same when the connection
is replaced, and nothing runs beside the worker's loop, so forking pool children stays safe
(Python 3.12+ warns when a process with threads forks). A lost connection is replaced without
blocking the loop: the new one connects and LISTENs asynchronously, driven by the same selector.
(Only resolving a host name blocks, as libpq does it before connecting; an IP address in the
URL avoids even that.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import time
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("litequeue.worker")

RETRY_MAX = 5.0  # seconds between attempts to reconnect a lost LISTEN connection
STEADY = 60.0  # seconds since the last loss for a new one to be news (logged, retried at once)
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
POLL_OK, POLL_READ, POLL_WRITE = 0, 1, 2  # what a connection's poll() answers (psycopg2's values)


def supported() -> bool:
    """Whether this platform's selector is one that can be waited on inside another (epoll, kqueue)."""
    nestable = (getattr(selectors, "EpollSelector", None), getattr(selectors, "KqueueSelector", None))
    return selectors.DefaultSelector in nestable


class Listener:
    """Wait on ``fileno()``, then ``drain()``; call ``tend()`` on every turn of the worker's loop
    and by ``tend_at`` (monotonic; None when nothing is due); ``close()`` when done.

    ``connect(async_)`` opens a connection to the store's database (the first one blocking, so a
    wrong URL fails at worker start; replacements asynchronous): a psycopg2 connection, or a
    ``postgres_pq.Pq3Connection`` on psycopg 3, which answers ``poll()`` the same way. ``errors`` are the driver's
    exceptions; ``timeout`` bounds how long a replacement may take to connect and LISTEN.
    """

    def __init__(self, connect: Callable[[bool], Any], channel: str, errors: tuple[type[BaseException], ...],
                 timeout: float) -> None:
        self._poll_states = {POLL_READ: _READ, POLL_WRITE: _WRITE}
        self._poll_ok = POLL_OK
        self._connect, self._listen_sql = connect, f'LISTEN "{channel}"'
        self._errors, self._timeout = errors + (OSError,), timeout
        self._inner = selectors.DefaultSelector()
        self._poke_r, self._poke_w = os.pipe()
        for fd in (self._poke_r, self._poke_w):
            os.set_blocking(fd, False)
        self._inner.register(self._poke_r, _READ)
        self._conn: Any = None  # listening
        self._pending: Any = None  # being connected (then LISTEN sent), asynchronously
        self._pending_until = self._retry_at = 0.0
        self._listening: Any = None  # the replacement's LISTEN, while it runs
        self._backoff = 0.0
        self._last_loss = float("-inf")  # monotonic
        self._warned = False  # about failing to listen again (once)
        self._fd = -1  # the connection's socket, as registered
        _live.add(self)
        try:
            self._conn = self._first_connection()
            self._watch(self._conn, _READ)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        """The descriptor to wait on (readable: look for jobs, then drain)."""
        return self._inner.fileno()

    @property
    def tend_at(self) -> float | None:
        """When ``tend()`` has work to do: a reconnect attempt or a replacement's deadline."""
        if self._pending is not None:
            return self._pending_until
        return None if self._conn is not None else self._retry_at

    def drain(self) -> bool:
        """Consume every pending wake-up; drive a replacement connection on; notice a lost one.
        Whether the worker should look for jobs (a notification, or listening again)."""
        poked = False
        with contextlib.suppress(OSError):
            while os.read(self._poke_r, 4096):
                poked = True
        if self._pending is not None:
            self._advance()
        elif self._conn is not None and self._hear():
            return True
        return poked

    def tend(self) -> None:
        """Start a replacement once the backoff allows; give up on one that takes too long."""
        now = time.monotonic()
        if self._pending is not None and now > self._pending_until:
            self._failed(f"it did not connect within {self._timeout:g} s")
        if self._conn is None and self._pending is None and now >= self._retry_at:
            try:
                self._pending, self._listening = self._connect(True), None
            except self._errors as exc:
                self._failed(exc)
                return
            self._pending_until = now + self._timeout
            self._advance()

    def close(self) -> None:
        """Close the connection and every descriptor (once)."""
        _live.discard(self)
        self._unwatch()
        for conn in (self._conn, self._pending):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        self._conn = self._pending = None
        self._inner.close()
        self._close_pipe()

    # -- the connection ---------------------------------------------------------------------------

    def _first_connection(self) -> Any:
        conn = self._connect(False)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(self._listen_sql)
        except BaseException:
            conn.close()
            raise
        return conn

    def _hear(self) -> bool:
        """Read what the server sent; whether it held a notification."""
        conn = self._conn
        try:
            conn.poll()
        except self._errors as exc:
            self._lost(exc)
            return False
        heard = bool(conn.notifies)
        conn.notifies.clear()
        # The server says it is ending this connection (its socket closes just after).
        fatal = [notice for notice in conn.notices if notice.startswith("FATAL")]
        conn.notices.clear()
        if fatal:
            self._lost(fatal[0])
        return heard

    def _advance(self) -> None:
        """Drive the replacement on: connect, then LISTEN; once done, it is the connection."""
        conn = self._pending
        try:
            state = conn.poll()
            if state == self._poll_ok and self._listening is None:
                self._listening = conn.cursor()  # kept until the LISTEN is done (psycopg2 asks it)
                self._listening.execute(self._listen_sql)  # asynchronous: poll() says when it is done
                state = conn.poll()
            if state == self._poll_ok:
                self._pending, self._listening, self._conn, self._warned = None, None, conn, False
                self._watch(conn, _READ)
                log.info("Listening for new jobs again (PostgreSQL LISTEN).")
                self._poke()  # jobs may have been sent while it could not hear them
                return
            events = self._poll_states.get(state)
            if events is None:
                self._failed(f"the driver's connection state is {state}")
                return
            self._watch(conn, events)
        except self._errors as exc:
            self._failed(exc)

    def _lost(self, why: object) -> None:
        self._drop("_conn")
        now = time.monotonic()
        news, self._last_loss = now - self._last_loss >= STEADY, now
        if news:  # say so, and try again at once
            log.warning("Lost the PostgreSQL LISTEN connection (%s); polling until it is back.", first_line(why))
            self._backoff, self._retry_at = 0.0, now
        else:  # it keeps dropping (an idle timeout, a proxy): back off, quietly
            log.debug("Lost the PostgreSQL LISTEN connection again (%s).", first_line(why))
            self._back_off()

    def _failed(self, why: object) -> None:
        self._drop("_pending")
        self._back_off()
        level = logging.WARNING if self._backoff == RETRY_MAX and not self._warned else logging.DEBUG
        self._warned = self._warned or level == logging.WARNING
        log.log(level, "Could not listen again (%s); next attempt in %.1f s.", first_line(why), self._backoff)

    def _back_off(self) -> None:
        self._backoff = min(max(self._backoff * 2, 0.5), RETRY_MAX)
        self._retry_at = time.monotonic() + self._backoff

    def _drop(self, attribute: str) -> None:
        conn = getattr(self, attribute)
        setattr(self, attribute, None)
        self._unwatch()
        with contextlib.suppress(Exception):
            conn.close()

    # -- the selector -----------------------------------------------------------------------------

    def _watch(self, conn: Any, events: int) -> None:
        # Registered afresh each time: while connecting, libpq may replace its socket (even under
        # the same number, which the selector could not tell apart).
        self._unwatch()
        self._fd = conn.fileno()
        self._inner.register(self._fd, events)

    def _unwatch(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._inner.unregister(self._fd)
            self._fd = -1

    def _poke(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            os.write(self._poke_w, b"!")

    def _close_pipe(self) -> None:
        for fd in (self._poke_r, self._poke_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._poke_r = self._poke_w = -1

    def _close_in_child(self) -> None:
        """In a forked pool child: close this process's copies of the descriptors, so that only
        the worker holds the socket (a lost connection then leaves no readable ghost behind). The
        connections are kept, never closed here: closing one would end the worker's LISTEN."""
        _kept_in_child.extend(c for c in (self._conn, self._pending) if c is not None)
        self._inner.close()
        self._close_pipe()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1
        self._conn = self._pending = self._listening = None


def first_line(why: object) -> str:
    """The first line of an error's text (libpq's messages run over several), or its type's name."""
    text = str(why).strip()
    return text.splitlines()[0].strip() if text else type(why).__name__


_live: weakref.WeakSet[Listener] = weakref.WeakSet()
_kept_in_child: list[Any] = []  # a child's copies of the worker's connections, never freed there


def _after_fork_in_child() -> None:
    for listener in list(_live):
        listener._close_in_child()
    _live.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
