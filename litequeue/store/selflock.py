"""Telling a self-deadlock from a busy database: is the SQLite write lock that litequeue waits for
held by this very thread, through another connection to the same file?

The usual case is an application's own transaction on the shared file (``with engine.begin():``
in SQLAlchemy, sqlite3's implicit transaction) with a ``delay()`` inside it: litequeue's
connection would wait for a lock that its own caller holds, and nothing can ever release it.

Only asked when a write found the database locked, so a free database pays nothing. The answer
is yes only when it is certain; otherwise litequeue waits as usual:
1. the lock is held by this process, not another one (Linux: ``/proc/locks`` names the process
   holding the WAL write lock; elsewhere the question is not answered);
2. a connection of this process, other than litequeue's own, has a transaction open on the file,
3. and that connection is this thread's: made in this thread (``check_same_thread``), held by
   an SQLAlchemy Connection or Session on this thread's stack or by this thread's Django
   database connection (Django keeps one per thread), or this process has no other thread that
   could commit it.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import sqlite3
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

_WAL_WRITE_LOCK = 120  # the -shm byte SQLite's unix VFS locks for the WAL write lock
_RESERVED_BYTE = 0x40000001  # the database file's byte a writer locks in rollback-journal mode
# Attributes through which an application object leads to its DB-API connection (SQLAlchemy:
# Connection._dbapi_connection -> pool fairy .dbapi_connection; Session._transaction._connections).
_LEADS = ("_dbapi_connection", "dbapi_connection", "driver_connection", "_transaction", "_connections",
          "_connection", "session", "_session", "_proxied")
_MAX_VISITS = 500


def held_by_this_thread(path: str, own: sqlite3.Connection | None) -> bool:
    """Whether the write lock on the SQLite file ``path`` is held by this thread through a
    connection other than ``own`` (so waiting for it would never end)."""
    if _lock_holder(path) != os.getpid():
        return False
    real = os.path.realpath(path)
    ours = _reachable_connections() | _django_connections()
    if any(conn is not own and _in_transaction_on(conn, real) for conn in ours):
        return True  # the cheap look first: this thread's stack
    holders = [conn for conn in _connections_in_transaction(real) if conn is not own]
    if not holders:
        return False
    return any(_made_here(conn) for conn in holders) or threading.active_count() == 1


def _lock_holder(path: str) -> int | None:
    """The pid holding the write lock of ``path``: the WAL write lock in its -shm file or, for a
    file still in rollback-journal mode (an application's tables made before the store switched
    it to WAL), the RESERVED lock in the file itself. Read from /proc/locks, never by opening
    either file: closing any descriptor of a file drops this process's POSIX locks on it."""
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for suffix, byte in (("-shm", _WAL_WRITE_LOCK), ("", _RESERVED_BYTE)):
        with contextlib.suppress(OSError):  # (no -shm: the file is not in WAL mode)
            holder = _holder_of(lines, os.stat(path + suffix).st_ino, byte)
            if holder is not None:
                return holder
    return None


def _holder_of(lines: list[str], inode: int, byte: int) -> int | None:
    """The pid holding a POSIX write lock on ``byte`` of the file ``inode``, per /proc/locks."""
    for line in lines:
        parts = line.split()
        if "->" in parts or len(parts) < 8 or parts[1] != "POSIX" or parts[3] != "WRITE":
            continue  # ("->" marks a process waiting for a lock, not holding it)
        try:
            file_inode, start = int(parts[5].rsplit(":", 1)[1]), int(parts[6])
            end = sys.maxsize if parts[7] == "EOF" else int(parts[7])
        except ValueError:
            continue
        if file_inode == inode and start <= byte <= end:
            return int(parts[4])
    return None


def _connections_in_transaction(real: str) -> Iterator[sqlite3.Connection]:
    """This process's sqlite3 connections with a transaction open on the file ``real``."""
    for obj in gc.get_objects():
        if issubclass(type(obj), sqlite3.Connection) and _in_transaction_on(obj, real):
            yield obj


def _in_transaction_on(conn: sqlite3.Connection, real: str) -> bool:
    with contextlib.suppress(sqlite3.Error):  # closed, or made in another thread
        return conn.in_transaction and _main_file(conn) == real
    return False


def _main_file(conn: sqlite3.Connection) -> str | None:
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return os.path.realpath(file) if file else None
    return None


def _made_here(conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` checks that it is used in the thread that made it (sqlite3's default), in
    which case having answered above proves it is this thread's. A connection shared between
    threads (check_same_thread=False) also answers anywhere: that proves nothing."""
    result: list[str] = []
    probe = threading.Thread(target=_probe, args=(conn, result))
    probe.start()
    probe.join()
    return result == ["refused"]


def _probe(conn: sqlite3.Connection, result: list[str]) -> None:
    try:
        conn.in_transaction  # noqa: B018 - the check is the point
        result.append("answered")
    except sqlite3.ProgrammingError:
        result.append("refused")


def _reachable_connections() -> set[Any]:
    """The sqlite3 connections held by SQLAlchemy Connection and Session objects on this thread's
    stack (through their known attributes, read without running properties)."""
    found: set[Any] = set()
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = []
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        todo.extend((value, 0) for value in frame.f_locals.values())
        frame = frame.f_back
    while todo and len(seen) < _MAX_VISITS:
        obj, depth = todo.pop()
        kind = type(obj)  # never isinstance(): a lazy object (Django's settings) evaluates on __class__
        if id(obj) in seen or obj is None or issubclass(kind, (str, bytes, int, float, bool)):
            continue
        seen.add(id(obj))
        if issubclass(kind, sqlite3.Connection):
            if depth > 0:  # held by an SQLAlchemy Connection or Session of this thread's
                found.add(obj)
            continue  # (a bare one may be shared with a thread that commits it: not proof)
        if depth >= 7:
            continue
        if issubclass(kind, (dict, tuple, list)):
            if depth > 0:  # inside an SQLAlchemy object (a Session's connections), not any local
                todo.extend((v, depth + 1) for v in list(obj.values() if issubclass(kind, dict) else obj)[:20])
        elif kind.__module__.startswith("sqlalchemy."):
            todo.extend((value, depth + 1) for name in _LEADS if (value := _plain_attribute(obj, name)) is not None)
    return found


def _django_connections() -> set[Any]:
    """The sqlite3 connections of this thread's Django database connections, when Django is in
    use (its wrappers are per thread; their sqlite3 connections allow any thread, so the
    check_same_thread probe cannot tell whose they are)."""
    django_db = sys.modules.get("django.db")
    if django_db is None:
        return set()
    found: set[Any] = set()
    with contextlib.suppress(Exception):  # Django not set up, or an old one: not proof, so nothing
        for wrapper in django_db.connections.all(initialized_only=True):
            conn = getattr(wrapper, "connection", None)
            if conn is not None and issubclass(type(conn), sqlite3.Connection):
                found.add(conn)
    return found


def _plain_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` when it is stored data (instance dict or slot), never a property's result."""
    try:
        value = inspect.getattr_static(obj, name)
    except AttributeError:
        return None
    if isinstance(value, types.MemberDescriptorType):
        try:
            return value.__get__(obj, type(obj))
        except AttributeError:
            return None
    if isinstance(value, (property, types.FunctionType, types.MethodType, classmethod, staticmethod)):
        return None
    return value
