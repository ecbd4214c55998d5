"""One error tree. Each class's docstring says the problem and the fix; it is the default message.

Control flow raised from inside tasks (``Retry``, ``Reject``, ``Ignore``) is not part of the tree: it is not
an error, it is an instruction to the worker.
"""

from __future__ import annotations

import builtins
from typing import Any


class LiteQueueError(Exception):
    """Something went wrong in litequeue."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or " ".join((self.__doc__ or "").split()))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(LiteQueueError):
    """A setting has a value litequeue cannot use; fix the setting named in the message."""


class InvalidOptionError(LiteQueueError, ValueError):
    """A call option (countdown, eta, expires, priority, ...) is invalid; see the message."""


class NotRegistered(LiteQueueError, KeyError):
    """No task with this name is registered; check the name, or import the module defining it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class SerializationError(LiteQueueError):
    """A value could not be serialised; pass JSON-friendly values or opt in to pickle."""


class ContentDisallowed(SerializationError):
    """The message's content type is not in accept_content; add it there only if you trust the producers."""


class PayloadTooLarge(SerializationError):
    """The arguments exceed task_max_payload_bytes; pass a reference (a path or id) instead of the data."""


class StoreError(LiteQueueError):
    """The store (the database file) could not be used."""


class StoreNotFound(StoreError):
    """The database's directory does not exist or cannot be written; create it or pick another path."""


class StoreCorrupt(StoreError):
    """The file is not a usable SQLite database; point litequeue at its own database file."""


class StoreFileChanged(StoreError):
    """The database file (or its -wal or -shm) was deleted or replaced while in use, which loses
    work silently; stop every process using it, restore the file, then start them again."""


class ForeignDatabase(StoreError):
    """The database holds another application's tables; use a file of its own, or pass share_database=True."""


class SchemaTooNew(StoreError):
    """The database was written by a newer litequeue; upgrade litequeue to use it."""


class StoreLocked(StoreError):
    """The database stayed locked by another writer past sqlite_busy_timeout; raise that setting
    or find the long writer."""


class SelfDeadlock(StoreError):
    """This thread holds the SQLite write lock through another connection (an open transaction of
    the application's on the same file), so waiting for it would never end. Send the job through
    that transaction, or after it commits."""


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full; free space, then try again."""


class DuplicateJob(StoreError):
    """A job with this task_id already exists; give each job its own task_id, or leave task_id out."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached (down, restarting, or a wrong host or port); start it or fix the URL."""


class StoreAccessDenied(StoreError):
    """The database server refused the login or the action; fix the user and password in the URL, or the grants."""


class TimeoutError(LiteQueueError, builtins.TimeoutError):  # noqa: A001 - Celery's name, also a builtin subclass
    """The job did not finish within the timeout given to get(); wait longer or check that a worker is running."""


class TaskRevokedError(LiteQueueError):
    """The job was revoked (cancelled, or expired before it started), so it has no result."""


class TaskIgnoredError(LiteQueueError):
    """The task raised Ignore, so the job ended with no result and never will have one (Celery would
    wait for it forever); read the state the task set with update_state, if any, from
    AsyncResult.state and .info, or return a value instead of raising Ignore."""


class TaskError(LiteQueueError):
    """The task raised an exception that could not be rebuilt here; its type name and message are kept."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


class WorkflowNeedsApp(ConfigurationError):
    """Changing these jobs fails a chord, and recording its failure (its callback stored as
    failed, its errbacks sent) needs the application's tasks, which this process does not have."""


class ChordError(LiteQueueError):
    """A member of the chord's header failed or was revoked, so its callback did not run; the
    message names the member (its task id) and what it raised."""


class NotInJob(LiteQueueError, RuntimeError):
    """This can only be called from a task's own code while a worker runs it as a job (a bound
    task: bind=True); outside one there is no job to act on. Send the signature instead."""


class WorkerLostError(LiteQueueError):
    """The process running the job died (killed, crashed, or stopped heartbeating)."""


class TimeLimitExceeded(LiteQueueError):
    """The job ran past its hard time_limit and was killed; raise the limit or make the task faster."""


class SoftTimeLimitExceeded(LiteQueueError):
    """The job ran past its soft_time_limit; the task may catch this to clean up."""


class MaxRetriesExceededError(LiteQueueError):
    """The task asked to retry but has used up max_retries."""


class Retry(Exception):  # noqa: N818 - Celery's name
    """Raised by ``task.retry()``: run this job again later. Not an error."""

    def __init__(self, message: str | None = None, exc: BaseException | None = None,
                 when: float | None = None) -> None:
        super().__init__(message or "Retry")
        self.exc = exc
        self.when = when  # epoch seconds of the next attempt


class Reject(Exception):  # noqa: N818 - Celery's name
    """Raised from a task: end this job without retrying (or requeue it when ``requeue=True``)."""

    def __init__(self, reason: object = None, requeue: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.requeue = requeue


class Ignore(Exception):  # noqa: N818 - Celery's name
    """Raised from a task: end this job here, recording no outcome of its own and setting nothing
    off (no links, errbacks or chain step), as in Celery. Its state stays what the task stored
    with ``update_state`` (else PENDING, for Celery code); litequeue's ``job_state`` reads IGNORED.
    Never retried, even by ``autoretry_for``. ``Task.replace()`` raises it as ``Replaced``."""


class Replaced(Ignore):
    """Raised by ``self.replace(sig)``: the job ends here and ``signature`` (encoded as JSON in
    ``encoded``) takes its place; the worker records the job as REPLACED and sends it."""

    def __init__(self, signature: Any, encoded: bytes) -> None:
        super().__init__(f"Replaced by {signature!r}")
        self.signature = signature
        self.encoded = encoded
