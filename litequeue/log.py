"""Logging a worker's users can read: lines from inside a task carry its name and id, ``print()``
in a task reaches the worker's log, and ``--log-format json`` writes one JSON object per line.

``get_task_logger(__name__)`` is Celery's: a logger under ``litequeue.task`` whose lines say which
job wrote them. Every line written while a job runs gets ``task_name`` and ``task_id`` (``None``
outside a job), so a formatter may use them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from .request import _current_request

PLAIN_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
TASK_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"
TASK_LOGGER = "litequeue.task"
LIFECYCLE_LOGGER = "litequeue.worker.lifecycle"  # banner, burst summary, stop: shown at the default level
FORMATS = ("text", "json")


def get_task_logger(name: str) -> logging.Logger:
    """A logger for task modules (Celery's ``get_task_logger``): its lines go through the
    ``litequeue.task`` logger and carry the running job's task name and id."""
    logger = logging.getLogger(name)
    if name != TASK_LOGGER:
        logger.parent = logging.getLogger(TASK_LOGGER)
    return logger


class TaskContext(logging.Filter):
    """Adds ``task_name`` and ``task_id`` of the job running in this process (or None) to
    every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current_request.get()
        record.task_name = request.task if request is not None else None
        record.task_id = request.id if request is not None else None
        return True


class TextFormatter(logging.Formatter):
    """The usual worker line; a line written inside a job says which one (Celery's task format)."""

    def __init__(self) -> None:
        super().__init__(PLAIN_FORMAT)
        self._task = logging.Formatter(TASK_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "task_id", None):
            return self._task.format(record)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601 UTC), level, logger, process, message,
    task_name, task_id, and exc_info (the traceback text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "process": record.processName,
            "pid": record.process, "message": record.getMessage(),
            "task_name": getattr(record, "task_name", None), "task_id": getattr(record, "task_id", None),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class LoggingProxy:
    """A file-like object for ``sys.stdout``/``sys.stderr`` that writes each printed line to a
    logger (so ``print()`` in a task lands in the worker's log with the job's name and id)."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger, self.level = logger, level
        self._buffer = ""
        self._writing = False

    def write(self, text: str) -> int:
        if self._writing:  # a handler that prints would loop forever
            return len(text)
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        self._writing = True
        try:
            for line in lines:
                if line.strip():
                    self.logger.log(self.level, line.rstrip())
        finally:
            self._writing = False
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            rest, self._buffer = self._buffer, ""
            self.write(rest + "\n")

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("a logging proxy has no file descriptor")


@contextlib.contextmanager
def stdouts_to_log(level: int = logging.WARNING) -> Iterator[None]:
    """While inside, what is printed (here and in children forked meanwhile) goes to the log
    at ``level`` (Celery's worker_redirect_stdouts, at its default level)."""
    streams = sys.stdout, sys.stderr
    printed = logging.getLogger(f"{TASK_LOGGER}.stdout")
    sys.stdout = LoggingProxy(printed, level)
    sys.stderr = LoggingProxy(printed, level)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams


def setup(level: str, logfile: str | None = None, fmt: str = "text") -> None:
    """Log at ``level`` to ``logfile`` (or stderr) in ``fmt`` (text or json). The worker's
    banner, burst summary and stop line show at levels up to warning (the default)."""
    stream: IO[str] = sys.stderr
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(TaskContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    lifecycle = logging.getLogger(LIFECYCLE_LOGGER)
    lifecycle.setLevel(logging.INFO if root.level <= logging.WARNING else root.level)


def missing_store(url: str | None) -> str | None:
    """The absolute path of the SQLite store ``url`` names when no file is there yet, else None."""
    from .store.sqlite import path_from_url

    if not url or ("://" in url and not url.startswith("sqlite:")):  # a server (PostgreSQL, any driver)
        return None
    path = path_from_url(url)
    return None if path == ":memory:" or os.path.exists(path) else os.path.abspath(path)


def created_store(path: str, asked: bool) -> None:
    """Say that a worker created the store it was pointed at: asked to (--create), or the one its
    app names (a mistyped path would otherwise leave it waiting forever on an empty new file)."""
    if asked:
        logging.getLogger(LIFECYCLE_LOGGER).info("No store at %s: created a new, empty one (--create).", path)
        return
    logging.getLogger(LIFECYCLE_LOGGER).warning(
        "No store at %s: created a new, empty one, the store the app names; waiting for jobs there. If you "
        "expected jobs, check the path and the directory you started in (producers and workers must name the "
        "same file).", path)
