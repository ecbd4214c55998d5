"""Directories only this user can enter, made and opened without following symlinks.

The wake-up sockets live in such a directory. Its fallback place, ``/tmp/litequeue-<uid>``, has a
name anyone can guess, so what is found there is checked (``fstat`` of a descriptor opened with
``O_NOFOLLOW``): a directory owned by this user and closed to others, or nothing is used at all.
"""

from __future__ import annotations

import os
import stat
import tempfile

_OPEN_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
SHARED_TMP = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


class UnsafeDirectory(OSError):
    """A directory litequeue would use is a symlink, not a directory, or another user's."""


def uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def open_private_dir(name: str, dir_fd: int | None = None) -> int:
    """A descriptor of directory ``name`` (made 0700 if missing), checked to be a real directory
    owned by this user; a looser mode of our own directory (older litequeue made it 0755) is
    tightened to 0700. Raises UnsafeDirectory naming the problem, or OSError."""
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        pass
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
    except OSError as exc:
        if os.path.islink(name) if dir_fd is None else _is_link(name, dir_fd):
            raise UnsafeDirectory(f"{name} is a symbolic link, not a directory litequeue made") from exc
        if isinstance(exc, NotADirectoryError):
            raise UnsafeDirectory(f"{name} is not a directory") from exc
        raise
    try:
        st = os.fstat(fd)
        if st.st_uid != uid():
            raise UnsafeDirectory(f"{name} belongs to another user (uid {st.st_uid}), not to uid {uid()}")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o700)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


# A socket's path must fit sockaddr_un (108 bytes): $XDG_RUNTIME_DIR/litequeue/<16 hex>/<pid-name>
# leaves room for a name of 20 or more only when the runtime directory's path is this short.
MAX_RUNTIME_PATH = 56


def runtime_base() -> tuple[str, str]:
    """(parent, name) of this user's private litequeue directory: ``$XDG_RUNTIME_DIR/litequeue``
    when that variable is set (to a path short enough for sockets), else ``/tmp/litequeue-<uid>``.
    Producers and workers compute the same, so they meet there."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and len(runtime) <= MAX_RUNTIME_PATH:
        return runtime, "litequeue"
    return SHARED_TMP, f"litequeue-{uid()}"


def open_runtime_base() -> tuple[str, int]:
    """(path, descriptor) of the directory ``runtime_base`` names, made 0700 and checked. Raises
    UnsafeDirectory or OSError."""
    parent, name = runtime_base()
    parent_fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        return os.path.join(parent, name), open_private_dir(name, parent_fd)
    except UnsafeDirectory as exc:
        raise UnsafeDirectory(str(exc).replace(name, os.path.join(parent, name), 1)) from exc.__cause__
    finally:
        os.close(parent_fd)


def is_socket(name: str, dir_fd: int | None = None) -> bool:
    """Whether ``name`` is a Unix socket itself (a symlink to one is not)."""
    try:
        return stat.S_ISSOCK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def unlink_socket(name: str, dir_fd: int | None = None) -> None:
    """Remove ``name`` if it is a socket; anything else is left alone. Never raises."""
    try:
        if is_socket(name, dir_fd):
            os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass
