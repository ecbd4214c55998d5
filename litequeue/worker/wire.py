"""The pool's pipe protocol: length-prefixed ``marshal`` frames over a Connection's socket.

Jobs and replies are flat tuples of str, bytes, numbers and None, which marshal encodes several
times faster than pickle. Reading takes whatever the socket holds in one system call and returns
every complete frame in it, so replies that queued up while the main process was busy cost one
read, not two per reply as with ``Connection.recv``.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")
_READ_SIZE = 1 << 18


class Channel:
    """One end of a pool pipe. ``send`` blocks until written; ``receive`` returns the frames
    available (waiting for the first if ``wait``); EOFError once the other end has closed."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn  # kept so the socket stays open (and is passed on to a spawned child)
        self.fd = conn.fileno()
        self._buffer = bytearray()

    def send(self, message: Any) -> None:
        self.send_all([message])

    def send_all(self, messages: list[Any]) -> None:
        """Send several frames in one write."""
        if not messages:
            return
        parts: list[bytes] = []
        for message in messages:
            data = marshal.dumps(message)
            parts += (_HEADER.pack(len(data)), data)
        view = memoryview(b"".join(parts))
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def receive(self, wait: bool = True) -> list[Any]:
        """The complete frames now readable: one read, or more while ``wait`` and none is whole."""
        while True:
            chunk = self._read()
            if not chunk:
                raise EOFError("the other end of the pool pipe closed")
            self._buffer += chunk
            frames = self._frames()
            if frames or not wait:
                return frames

    def receive_rest(self) -> list[Any]:
        """Every complete frame left in the pipe of a process that has exited: reads until the
        end, or until nothing more is there (never waits: another process may hold the pipe)."""
        os.set_blocking(self.fd, False)
        try:
            while chunk := self._read():
                self._buffer += chunk
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self.fd, True)
        return self._frames()

    def _read(self) -> bytes:
        try:
            return os.read(self.fd, _READ_SIZE)
        except ConnectionResetError:
            # The other end closed with frames we sent it unread (a child that died with jobs
            # waiting): the error is reported once, and what it wrote before dying is still here.
            return os.read(self.fd, _READ_SIZE)

    def _frames(self) -> list[Any]:
        buffer, size, at, frames = self._buffer, len(self._buffer), 0, []
        while size - at >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer, at)
            end = at + _HEADER.size + length
            if end > size:
                break
            frames.append(marshal.loads(buffer[at + _HEADER.size:end]))
            at = end
        if at:
            del buffer[:at]
        return frames

    def close(self) -> None:
        self.conn.close()


FEED_MESSAGE_MAX = 16 * 1024  # bytes: a bigger job crosses its child's own pipe (see Pool.submit)
_FEED_BUFFER = 4 << 20  # bytes the feed may hold (the system may grant less: put() then says full)
EMPTY = object()  # what Feed.take returns when nothing is there and it was told not to wait


class Feed:
    """The pool's shared job channel: the main process puts jobs in, and whichever child is free
    takes the next one (so no job waits behind another while a child is idle).

    A ``SOCK_SEQPACKET`` socket pair: every message is read whole by exactly one reader, with no
    lock, so a child that dies can never leave the others waiting. The main process holds both
    ends: it can take back what no child has taken yet (a stop, a lost child)."""

    def __init__(self) -> None:
        self.writer, self.reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with contextlib.suppress(OSError):
            self.writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _FEED_BUFFER)
        self.out = FeedReader(self.reader)

    def put(self, message: Any) -> bool:
        """Queue ``message`` (at most FEED_MESSAGE_MAX bytes encoded); False if the feed is full."""
        try:
            self.writer.send(marshal.dumps(message), socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        return True

    def take_all(self) -> list[Any]:
        """Everything no child has taken yet (the main process takes it back)."""
        return self.out.take_all()

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


class FeedReader:
    """The reading end of a Feed (what a child holds)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray(FEED_MESSAGE_MAX + 1)

    def take(self, wait: bool = True) -> Any:
        """The next message (waiting for one if ``wait``, else EMPTY when there is none)."""
        try:
            size = self.sock.recv_into(self._buffer, 0, 0 if wait else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return EMPTY
        if not size:
            raise EOFError("the pool's feed closed")
        return marshal.loads(memoryview(self._buffer)[:size])

    def take_all(self) -> list[Any]:
        taken = []
        while (message := self.take(wait=False)) is not EMPTY:
            taken.append(message)
        return taken
