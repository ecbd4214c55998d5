"""Removing the wake directories of stores that no longer exist.

Each wake directory is named after a hash of its database's path, which cannot be turned back
into the path; so a listening worker leaves the path in the directory (``STORE_FILE``), and a
worker starting later removes the directories whose database is gone and where no worker
listens any more. Directories an older litequeue left without that file go once they have been
untouched for a day.
"""

from __future__ import annotations

import os
import re
import socket
import time

from .private_dir import is_socket, uid, unlink_socket

STORE_FILE = "store"
_UNTOUCHED_OLD_DIRS = 86400.0
_DIGEST = re.compile(r"[0-9a-f]{16}")


def remember_store(dir_fd: int, db_path: str) -> None:
    """Leave ``db_path`` in the wake directory (once), for ``sweep_stale`` to check later."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(STORE_FILE, flags, 0o600, dir_fd=dir_fd)
    except OSError:
        return  # there already (or not writable: then the directory is simply never swept)
    try:
        os.write(fd, os.fsencode(db_path))
    finally:
        os.close(fd)


def sweep_stale(base: str, base_fd: int, keep: str) -> int:
    """Remove the wake directories in ``base`` (open as ``base_fd``), but ``keep``, whose store is
    gone and where nobody listens. Returns how many were removed; never raises."""
    removed = 0
    try:
        names = os.listdir(base_fd)
    except OSError:
        return 0
    for name in names:
        if name != keep and _DIGEST.fullmatch(name) and _remove_if_stale(base, base_fd, name):
            removed += 1
    return removed


def _remove_if_stale(base: str, base_fd: int, name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=base_fd)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != uid() or not _store_gone(fd, st) or _anyone_listening(os.path.join(base, name), fd):
            return False
        for entry in os.listdir(fd):
            unlink_socket(entry, fd)
        try:
            os.unlink(STORE_FILE, dir_fd=fd)
        except FileNotFoundError:
            pass
        os.rmdir(name, dir_fd=base_fd)  # fails (and keeps it) if anything else is in there
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _store_gone(dir_fd: int, st: os.stat_result) -> bool:
    try:
        path_fd = os.open(STORE_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return time.time() - st.st_mtime > _UNTOUCHED_OLD_DIRS
    except OSError:
        return False
    try:
        return not os.path.exists(os.fsdecode(os.read(path_fd, 65536)))
    finally:
        os.close(path_fd)


def _anyone_listening(path: str, dir_fd: int) -> bool:
    for entry in os.listdir(dir_fd):
        if not is_socket(entry, dir_fd):
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(os.path.join(path, entry))
            return True
        except ConnectionRefusedError:
            continue
        except OSError:
            return True  # cannot tell: keep it
        finally:
            probe.close()
    return False

