"""Hooks with Celery's names. A receiver that raises is logged, never fatal.

    from litequeue.signals import task_failure

    @task_failure.connect
    def alert(sender=None, task_id=None, exception=None, **kwargs): ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("litequeue.signals")


class Signal:
    """A named list of receivers called with keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Add ``receiver`` (usable as a decorator)."""
        if receiver not in self.receivers:
            self.receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        if receiver in self.receivers:
            self.receivers.remove(receiver)

    def send(self, sender: Any = None, **kwargs: Any) -> None:
        if not self.receivers:
            return
        for receiver in list(self.receivers):
            try:
                receiver(sender=sender, signal=self, **kwargs)
            except Exception:
                log.exception("Signal receiver %r for %s raised; carrying on.", receiver, self.name)

    def __repr__(self) -> str:
        return f"<Signal {self.name}>"


before_task_publish = Signal("before_task_publish")
after_task_publish = Signal("after_task_publish")
task_prerun = Signal("task_prerun")
task_postrun = Signal("task_postrun")
task_success = Signal("task_success")
task_failure = Signal("task_failure")
task_retry = Signal("task_retry")
task_revoked = Signal("task_revoked")
worker_init = Signal("worker_init")
worker_ready = Signal("worker_ready")
worker_shutdown = Signal("worker_shutdown")
worker_process_init = Signal("worker_process_init")
beat_init = Signal("beat_init")
