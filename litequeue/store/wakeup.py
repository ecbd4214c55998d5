"""Waking idle workers on this machine right after a commit, without polling.

SQLite has no LISTEN/NOTIFY. Each worker binds a Unix datagram socket in a directory named after
the database; a producer sends one byte to every socket there after it commits. The directory's
listing is cached and re-read only when its mtime changes, so a notify costs an fstat and a send
per worker, and a producer sending many jobs looks at the directory at most every RECHECK_SECONDS.
Workers still poll slowly as a backstop (other machines, lost datagrams).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import socket
import threading
import time

from .. import pids
from .private_dir import UnsafeDirectory, is_socket, open_private_dir, open_runtime_base, runtime_base, unlink_socket
from .stale_wake_dirs import remember_store, sweep_stale

log = logging.getLogger("litequeue.wakeup")
_HAVE_UNIX = hasattr(socket, "AF_UNIX")
# How long a producer trusts its list of listening workers. A worker that starts meanwhile is
# woken from the producer's next look on, and looks for jobs once itself when that has surely
# happened (Listener.heard_from).
RECHECK_SECONDS = 0.01
MTIME_TICK = 0.05  # a directory's mtime may lag behind a change by up to a clock tick
_SUN_PATH_MAX = 100  # a socket's path must fit sockaddr_un (108 bytes, less on some systems)
_warned: set[str] = set()
_swept = False  # this process has removed the wake directories of stores that are gone


def wake_dir(db_path: str) -> str:
    """Where the wake-up sockets of ``db_path`` live: a directory named after its real path,
    in $XDG_RUNTIME_DIR/litequeue, else /tmp/litequeue-<uid> (both made 0700 and checked)."""
    return os.path.join(*runtime_base(), _digest(db_path))


def _digest(db_path: str) -> str:
    return hashlib.sha1(os.path.realpath(db_path).encode()).hexdigest()[:16]


def _warn_once(problem: str) -> None:
    if problem not in _warned:
        _warned.add(problem)
        log.warning("Wake-ups are off: %s. Remove it (or set XDG_RUNTIME_DIR to a directory of your own); "
                    "meanwhile workers find new jobs by polling every worker_poll_interval.", problem)


class Wakeup:
    """Send and receive wake-ups for one database file."""

    def __init__(self, db_path: str) -> None:
        self.db_path = os.path.realpath(db_path)
        self.dir = wake_dir(db_path)
        self._mtime = -1.0
        self._listed_at = 0.0  # (wall clock) when _targets was read
        self._targets: list[str] = []
        self._sender: socket.socket | None = None
        self._sender_pid = -1
        self._dir_fd: int | None = None
        self._dir_id = (-1, -1)  # (st_dev, st_ino) of the directory _dir_fd was opened on
        self._recheck_at = float("-inf")
        self._looking = threading.Lock()  # one thread at a time looks at (and holds) the directory

    def notify(self) -> None:
        """Wake every listening worker; never blocks, never raises."""
        if not _HAVE_UNIX:
            return
        now = time.monotonic()
        if now >= self._recheck_at and self._looking.acquire(blocking=False):
            try:  # a busy producer looks for new workers every RECHECK_SECONDS
                self._recheck_at = now + RECHECK_SECONDS
                self._look()
            except OSError:
                return
            finally:
                self._looking.release()
        sender = self._get_sender()
        for target in self._targets:
            try:
                sender.sendto(b"!", socket.MSG_DONTWAIT, target)
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):  # its worker is gone
                    unlink_socket(target)  # (only a socket: never a file someone put there)

    def _look(self) -> None:
        """Read the listening workers again if the directory changed since the last reading,
        or changed so shortly before it that a change in the same clock tick may be hidden."""
        mtime = self._dir_mtime()
        if mtime is None:
            self._targets = []
        elif mtime != self._mtime or self._listed_at - mtime < MTIME_TICK:
            self._mtime, self._listed_at = mtime, time.time()
            fd = self._dir_fd
            self._targets = [os.path.join(self.dir, n) for n in os.listdir(fd) if is_socket(n, fd)]

    def _dir_mtime(self) -> float | None:
        """The wake directory's mtime (None if it cannot be made). Read through an open
        descriptor, as an fstat costs half a stat; reopened if the directory was removed."""
        if self._dir_fd is not None:
            try:
                st = os.stat(self._dir_fd)
            except OSError:  # closed behind our back
                st = None
            if st is not None and (st.st_dev, st.st_ino) == self._dir_id:
                if st.st_nlink:
                    return st.st_mtime
                os.close(self._dir_fd)  # the directory was removed (a new one may have been made)
            self._dir_fd = None  # (a number closed behind our back and reused is not ours to close)
        fd = self._open_dir()  # made here if no worker has made it yet: one descriptor to watch from then on
        if fd is None:
            return None
        st = os.stat(fd)
        self._dir_fd, self._dir_id, self._mtime = fd, (st.st_dev, st.st_ino), -1.0
        return st.st_mtime

    def _open_dir(self, sweep: bool = False) -> int | None:
        """A descriptor of this store's wake directory, made and checked (None, with one warning,
        when no private directory can be had). ``sweep``: also remove those of stores now gone."""
        global _swept
        try:
            base, base_fd = open_runtime_base()
        except UnsafeDirectory as exc:
            _warn_once(str(exc))
            return None
        except OSError:
            return None
        try:
            if os.path.join(base, self.dir.rpartition(os.sep)[2]) != self.dir:  # XDG_RUNTIME_DIR changed
                self.dir = os.path.join(base, self.dir.rpartition(os.sep)[2])
            if sweep and not _swept:
                _swept = True
                sweep_stale(base, base_fd, keep=os.path.basename(self.dir))
            return open_private_dir(os.path.basename(self.dir), base_fd)
        except UnsafeDirectory as exc:
            _warn_once(f"{base}/{exc}")
            return None
        except OSError:
            return None
        finally:
            os.close(base_fd)

    def listen(self, name: str) -> Listener | None:
        """A listener that becomes readable when a producer notifies (None without AF_UNIX, or
        when no private wake directory can be had: the worker then polls)."""
        if not _HAVE_UNIX:
            return None
        fd = self._open_dir(sweep=True)
        if fd is None:
            return None
        try:
            remember_store(fd, self.db_path)
            room = max(_SUN_PATH_MAX - len(self.dir) - 1, 8)
            entry = f"{os.getpid()}-{name}"[:min(room, 60)]
            unlink_socket(entry, fd)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(os.path.join(self.dir, entry))
                sock.setblocking(False)
                inode = os.stat(entry, dir_fd=fd, follow_symlinks=False).st_ino
            except OSError as exc:
                sock.close()
                _warn_once(f"cannot listen in {self.dir} ({exc.strerror or exc})")
                return None
            return Listener(sock, os.path.join(self.dir, entry), inode)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the sending socket and the directory (made again if notify is called again)."""
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        # (A lock held by a thread of the parent when this process forked is never released here:
        # then the descriptor is left open rather than waiting forever.)
        if self._looking.acquire(timeout=1.0):
            try:
                if self._dir_fd is not None:
                    os.close(self._dir_fd)
                    self._dir_fd = None
            finally:
                self._looking.release()

    def _get_sender(self) -> socket.socket:
        if self._sender is None or self._sender_pid != pids.current():
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender_pid = pids.current()
        return self._sender


class Listener:
    """The worker's end: wait on ``fileno()``, then ``drain()``; ``close()`` when done."""

    def __init__(self, sock: socket.socket, path: str, inode: int = -1) -> None:
        self.sock = sock
        self.path = path
        self.inode = inode  # the socket file this listener bound
        # (monotonic) From then on every producer on this machine wakes it; a worker looks for
        # jobs once more at that time, for those sent by producers that had not seen it yet.
        self.heard_from = time.monotonic() + 2 * RECHECK_SECONDS

    def fileno(self) -> int:
        return self.sock.fileno()

    tend_at = None  # nothing to look after: a local socket does not drop
    shareable = True  # a forked pool child may wait on it too (worker/wake_claims.py)

    def tend(self) -> None:
        """Nothing to do (see ``tend_at``)."""

    def drain(self) -> bool:
        """Read every pending wake-up; True (a producer sent something: look for jobs)."""
        drain_socket(self.sock.fileno())
        return True

    def close(self) -> None:
        self.sock.close()
        try:
            if os.stat(self.path, follow_symlinks=False).st_ino == self.inode:  # ours, not a successor's
                unlink_socket(self.path)
        except OSError:
            pass


def drain_socket(fd: int) -> None:
    """Read every datagram waiting on the non-blocking socket ``fd`` (wake-ups carry no content)."""
    try:
        while os.read(fd, 64):
            pass
    except OSError:
        pass
