"""litequeue: a background job queue whose broker, result store and schedule are one SQLite file."""

from .app import LiteQueue
from .canvas import (
    GroupResult,
    ResultSet,
    Signature,
    chain,
    chord,
    chunks,
    group,
    maybe_signature,
    signature,
    subtask,
    xmap,
    xstarmap,
)
from .celery_app import Celery
from .crontab import crontab
from .errors import (
    ChordError,
    Ignore,
    LiteQueueError,
    MaxRetriesExceededError,
    Reject,
    Retry,
    SoftTimeLimitExceeded,
    TaskIgnoredError,
    TaskRevokedError,
    TimeLimitExceeded,
    WorkerLostError,
)
from .log import get_task_logger
from .result import AsyncResult
from .routing import Queue
from .shared import shared_task
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "LiteQueue", "Celery", "Task", "AsyncResult", "Queue", "LiteQueueError", "Retry", "Reject", "Ignore",
    "MaxRetriesExceededError", "SoftTimeLimitExceeded", "TimeLimitExceeded", "TaskRevokedError",
    "TaskIgnoredError", "WorkerLostError", "ChordError", "crontab", "get_task_logger", "__version__",
    "Signature", "signature", "subtask", "maybe_signature", "chain", "group", "chord", "chunks", "xmap",
    "xstarmap", "GroupResult", "ResultSet", "shared_task",
]
