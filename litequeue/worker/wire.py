"""The pool's pipe protocol: length-prefixed ``marshal`` frames over a Connection's socket.

Jobs and replies are flat tuples of str, bytes, numbers and None, which marshal encodes several
times faster than pickle. Reading takes whatever the socket holds in one system call and returns
every complete frame in it, so replies that queued up while the main process was busy cost one
read, not two per reply as with ``Connection.recv``.
"""

from __future__ import annotations

import marshal
import os
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
        data = marshal.dumps(message)
        view = memoryview(_HEADER.pack(len(data)) + data)
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
