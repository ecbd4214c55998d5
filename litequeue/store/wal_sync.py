"""Making a commit durable after it was made visible: an fsync of the store's WAL file.

A durable enqueue on SQLite commits without waiting for the disk (synchronous=NORMAL), wakes the
workers, and only then syncs the WAL, before ``delay()`` returns: a worker starts the job while
the disk is busy, rather than after it, and the call still returns only once the job is on disk,
as at synchronous=FULL. (A power cut in between can lose a job that had already begun, exactly as
it can lose one whose call had not returned yet: the producer was never told it was stored.)
"""

from __future__ import annotations

import os
import threading

from ..errors import StoreError


class WalSync:
    """fsync of ``<database>-wal``, the file every commit of WAL mode is written to."""

    def __init__(self, database: str) -> None:
        self.path = database + "-wal"
        self._fd: int | None = None
        self.file_id: tuple[int, int] | None = None  # (device, inode) of the WAL _fd is open on
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Flush what has been written to the WAL to the disk (raises StoreError if it cannot)."""
        try:
            with self._lock:  # another thread may reopen the file and close this descriptor
                os.fdatasync(self._current())
        except OSError as exc:
            raise StoreError(f"{self.path}: the commit was written but the disk did not confirm it ({exc}). "
                             "Check the disk and free space; the job may or may not survive a power cut.") from exc

    def _current(self) -> int:
        """A descriptor on the WAL file there now. SQLite keeps one file while any connection is
        open, but one made since (the last connection closed, a new one opened) is another file:
        it is reopened, and its directory synced once, as SQLite does for a file it creates."""
        found = os.stat(self.path)
        if self._fd is None or (found.st_dev, found.st_ino) != self.file_id:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            opened = os.fstat(fd)
            self.close()
            self._fd, self.file_id = fd, (opened.st_dev, opened.st_ino)
            directory = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return self._fd

    def close(self) -> None:
        """Close the descriptor (the caller holds the lock, or no other thread syncs)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self.file_id = None
