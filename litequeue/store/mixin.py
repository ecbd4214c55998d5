"""What the store's mixins (admin, schedules) rely on; ``Store`` and its dialects provide it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import SimpleNamespace

    import peewee as pw


class StoreMixin:
    """Base of a group of store operations written against the Store's dialect hooks."""

    if TYPE_CHECKING:
        db: pw.Database
        models: SimpleNamespace

        def errors(self) -> AbstractContextManager[None]: ...
        def write(self) -> AbstractContextManager[Any]: ...
        def sql(self, statement: str) -> str: ...
        def notify(self) -> None: ...
        def index_hint(self, index: str) -> str: ...
        def insert_jobs(self, jobs: Any, now: float) -> dict[str, str]: ...
        def _limits_in_force(self) -> Any: ...
        def _claim_limited(self, limits: Any, lease: tuple, queues: list[str], ranked: bool,
                           limit: int, limited_room: int) -> list[tuple]: ...
        def _committed(self, txn: Any) -> bool: ...
        def _notify_after(self, committed: bool) -> None: ...

        lock_clause: str
        row_lock: str
        held_until: float | None
