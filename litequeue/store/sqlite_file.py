"""The SQLite file's hazards: what is checked before a file is opened, and while it is open.

Before opening, a path is refused, touching nothing, when it is not a regular file (a FIFO would
hang a reader, /dev/null swallow every write), not SQLite, another application's database, or a
newer schema: such a file is left byte-for-byte unchanged. A new file is created 0600.

While open, ``FileWatch`` notices the file deleted or replaced under the process, or its -wal
or -shm lost (they hold committed work in WAL mode): work written then would be lost.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from urllib.parse import quote

from ..errors import ForeignDatabase, SchemaTooNew, StoreCorrupt, StoreError, StoreFileChanged, StoreNotFound
from . import migrations

_OURS = ("lq_",)
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

Identities = dict[str, tuple[int, int] | None]  # file suffix ("", "-wal", "-shm") -> (device, inode)


def check_for_writing(path: str, share_database: bool) -> None:
    """Refuse a path we must not write to, touching nothing; create a new file as 0600."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise StoreNotFound(f"{path}: the directory {directory} does not exist. Create it, or choose another path.")
    if not os.path.exists(path):
        if not os.access(directory, os.W_OK):
            raise StoreNotFound(
                f"{path}: the directory {directory} is not writable. Fix its permissions, or choose another path.")
        _create_private(path)
        return
    _check_kind(path)
    if not os.access(path, os.R_OK | os.W_OK):
        raise StoreNotFound(f"{path}: the file is not readable and writable by this user. Fix its permissions.")
    if _read_header(path):
        _inspect_existing(path, share_database)


def check_still_there(path: str) -> None:
    """Refuse to open, for a worker's own process, a file that is gone (it is opened ``mode=rw``,
    never created: a new empty file would hide the loss from the worker's file check)."""
    if not os.path.exists(path):
        raise StoreNotFound(f"No database at {path}: it was deleted while a worker had it open.")


def check_for_reading(path: str) -> None:
    """Refuse a path a reading command cannot use: no file there (it is never created), not a
    regular file, not SQLite, not a litequeue store, or a schema this litequeue cannot read."""
    if not os.path.exists(path):
        raise StoreNotFound(f"No database at {path}; check the path (a worker or the first job sent creates it).")
    _check_kind(path)
    if not os.access(path, os.R_OK):
        raise StoreNotFound(f"{path}: the file is not readable by this user. Fix its permissions.")
    tables, version = _read_schema(path) if _read_header(path) else ([], 0)
    if "lq_meta" not in tables:
        _inspect_existing(path, share_database=False)  # another application's tables: says so
        raise StoreNotFound(f"{path} holds no litequeue store; check the path.")
    if version > migrations.SCHEMA_VERSION:
        raise SchemaTooNew(too_new(path, version))
    if version < migrations.SCHEMA_VERSION:
        raise StoreError(f"{path} was written by an older litequeue (schema version {version}); start a worker "
                         "on it once (it upgrades the file), then read it again.")


def make_private(*paths: str) -> None:
    """SQLite gives the -wal and -shm the database file's mode, which may be a user's 0644: they
    hold job data too, so ours are made 0600."""
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            if st.st_uid == os.geteuid() and st.st_mode & 0o077:
                os.chmod(path, 0o600)


class FileWatch:
    """The identities (device, inode) of an open database file and, in WAL mode, of its -wal and
    -shm (which exist for as long as any connection is open), taken at open; ``check()`` raises
    StoreFileChanged when one was deleted or replaced since. Cheap: a worker checks every heartbeat."""

    def __init__(self, path: str, wal: bool) -> None:
        self.path = path
        self.suffixes = ("", "-wal", "-shm") if wal else ("",)
        self.expected = self.identities()

    def identities(self) -> Identities:
        found: Identities = {}
        for suffix in self.suffixes:
            try:
                st = os.stat(self.path + suffix)
                found[suffix] = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                found[suffix] = None
        return found

    def check(self) -> None:
        now, before = self.identities(), self.expected
        if any(before.get(name) is not None and now[name] != before[name] for name in now):
            raise StoreFileChanged(self._changed(before, now))
        self.expected = {name: before.get(name) or now[name] for name in now}  # (one missing at open is taken now)

    def _changed(self, before: Identities, now: Identities) -> str:
        path = self.path
        if now[""] is None:
            what = "was deleted"
        elif now[""] != before[""]:
            what = "was replaced by another file (renamed over it)"
        else:
            lost = [path + suffix for suffix in ("-wal", "-shm") if now.get(suffix) != before.get(suffix)]
            what = f"lost {' and '.join(lost)} (deleted or replaced), which holds committed work"
        return (f"{path} {what} while this process had it open: work written now would be lost. Stop every "
                "process using it, restore the database from a backup if needed, then start them again.")


def too_new(path: str, version: int) -> str:
    """The message for a file written by a newer litequeue."""
    return (
        f"{path} was written by a newer litequeue (schema version {version}; this litequeue "
        f"knows up to {migrations.SCHEMA_VERSION}). Upgrade litequeue: pip install -U litequeue-jobs."
    )


def uri_quote(path: str) -> str:
    """``path`` as it goes into a ``file:`` URI."""
    return quote(path)


def _check_kind(path: str) -> None:
    """Refuse anything but a regular file (followed through symlinks): reading a FIFO would hang,
    and /dev/null would swallow every write."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise StoreNotFound(f"{path} is a directory; give the path of a database file inside it.")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise StoreNotFound(f"{path} is {kind}, not a database file; give the path of a regular file.")


def _read_header(path: str) -> bool:
    """Whether the file has content (an empty one is a new database); refuses a file that is not
    SQLite. Asked through SQLite, never by opening the file here: closing any descriptor of a file
    drops every POSIX lock this process holds on it, such as the write lock of an application's
    open transaction on a shared file (SQLite's own connections keep such descriptors open)."""
    if os.stat(path).st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"file:{uri_quote(path)}?immutable=1", uri=True)  # (no lock, no -shm)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StoreCorrupt(f"{path} is not an SQLite database. Point litequeue at its own database file.") from None
        # (locked, or another error: _read_schema asks again and says what it is)
    return True


def _create_private(path: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass  # another process created it just now
    except OSError as exc:
        raise StoreNotFound(f"{path}: cannot create the database file: {exc.strerror}.") from exc


def _inspect_existing(path: str, share_database: bool) -> None:
    tables, version = _read_schema(path)
    foreign = [t for t in tables if not t.startswith(_OURS) and not t.startswith("sqlite_")]
    if foreign and "lq_meta" not in tables and not share_database:
        raise ForeignDatabase(
            f"{path} holds another application's tables ({', '.join(sorted(foreign)[:3])}). Use a file "
            "of its own for litequeue, or pass share_database=True to add litequeue's tables to it."
        )
    if version > migrations.SCHEMA_VERSION:
        raise SchemaTooNew(too_new(path, version))


def _read_schema(path: str) -> tuple[list[str], int]:
    """(table names, litequeue schema version), read without writing a byte. A file with no -wal
    beside it is read as immutable, so not even a -shm is created; if a writer appears meanwhile,
    it is read again the usual read-only way."""
    immutable = not os.path.exists(path + "-wal")
    try:
        return _query_schema(path, immutable)
    except sqlite3.Error as exc:
        if immutable and os.path.exists(path + "-wal"):
            with contextlib.suppress(sqlite3.Error):
                return _query_schema(path, immutable=False)
        raise StoreCorrupt(
            f"{path} is corrupt or not an SQLite database ({exc}). Restore it from a backup, or use a new file."
        ) from exc


def _query_schema(path: str, immutable: bool) -> tuple[list[str], int]:
    mode = "immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"file:{uri_quote(path)}?{mode}", uri=True, timeout=5)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        version = 0
        if "lq_meta" in tables:
            row = conn.execute("SELECT value FROM lq_meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
        return tables, version
    finally:
        conn.close()
