"""Hooks with Celery's names, sent with Celery's arguments. A receiver that raises is logged,
never fatal.

    from litequeue.signals import task_failure

    @task_failure.connect
    def alert(sender=None, task_id=None, exception=None, args=None, kwargs=None, **more): ...

    @task_prerun.connect(sender="proj.tasks.add", dispatch_uid="audit")   # one task only, once

As in Celery, ``connect`` keeps a weak reference unless ``weak=False`` (a receiver defined inside a
function goes away with it), ``sender=`` limits a receiver to one sender (a task or its name, an
app, a worker), and ``dispatch_uid`` makes connecting twice connect once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("litequeue.signals")


class _Receiver:
    __slots__ = ("key", "ref", "sender")

    def __init__(self, key: tuple, ref: Callable[[], Any], sender: Any) -> None:
        self.key, self.ref, self.sender = key, ref, sender


class Signal:
    """A named list of receivers called with keyword arguments."""

    def __init__(self, name: str, providing_args: Any = None) -> None:
        self.name = name
        self.receivers: list[_Receiver] = []

    def connect(self, *args: Any, sender: Any = None, weak: bool = True, dispatch_uid: Any = None) -> Any:
        """Add a receiver: ``sig.connect(fn)``, ``@sig.connect`` or ``@sig.connect(sender=...)``."""
        if len(args) == 1 and callable(args[0]):
            return self._connect(args[0], sender, weak, dispatch_uid)
        if args:
            raise TypeError(f"{self.name}.connect takes one receiver; give sender= and dispatch_uid= as keywords.")
        return lambda receiver: self._connect(receiver, sender, weak, dispatch_uid)

    def _connect(self, receiver: Callable[..., Any], sender: Any, weak: bool, dispatch_uid: Any) -> Callable[..., Any]:
        key = (dispatch_uid if dispatch_uid is not None else _identity(receiver), _identity(sender))
        if any(r.key == key for r in self.receivers):
            return receiver
        ref: Callable[[], Any] = (lambda: receiver) if not weak else _weak(receiver, self._forget)
        self.receivers.append(_Receiver(key, ref, sender))
        return receiver

    def disconnect(self, receiver: Callable[..., Any] | None = None, sender: Any = None,
                   dispatch_uid: Any = None) -> bool:
        """Remove a receiver (as connected with this sender or dispatch_uid); whether one was."""
        key = (dispatch_uid if dispatch_uid is not None else _identity(receiver), _identity(sender))
        before = len(self.receivers)
        self.receivers = [r for r in self.receivers if r.key != key]
        return len(self.receivers) != before

    def send(self, sender: Any = None, **named: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call each receiver whose sender matches; returns [(receiver, its return value)]."""
        if not self.receivers:
            return []
        responses = []
        for entry in list(self.receivers):
            receiver = entry.ref()
            if receiver is None or not _matches(entry.sender, sender):
                continue
            try:
                responses.append((receiver, receiver(sender=sender, signal=self, **named)))
            except Exception as exc:
                log.exception("Signal receiver %r for %s raised; carrying on.", receiver, self.name)
                responses.append((receiver, exc))
        return responses

    def _forget(self, dead: Any) -> None:
        self.receivers = [r for r in self.receivers if r.ref is not dead and r.ref() is not None]

    def __repr__(self) -> str:
        return f"<Signal: {self.name}>"


def _identity(obj: Any) -> Any:
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "__self__") and hasattr(obj, "__func__"):  # a bound method: new object per access
        return (id(obj.__self__), id(obj.__func__))
    return id(obj)


def _weak(receiver: Callable[..., Any], forget: Callable[[Any], None]) -> Callable[[], Any]:
    try:
        if hasattr(receiver, "__self__") and hasattr(receiver, "__func__"):
            return weakref.WeakMethod(receiver, forget)
        return weakref.ref(receiver, forget)
    except TypeError:  # not weakly referable (a builtin, a partial): kept
        return lambda: receiver


def _matches(wanted: Any, sender: Any) -> bool:
    """A receiver's sender filter against the sender: the same object, equal, or a task's name."""
    if wanted is None or wanted is sender:
        return True
    if isinstance(wanted, str):
        return sender == wanted or getattr(sender, "name", None) == wanted
    return False


# Publishing (sender: the task's name)
before_task_publish = Signal("before_task_publish")
after_task_publish = Signal("after_task_publish")
# A job's life in a worker (sender: the task, except task_received: the worker)
task_received = Signal("task_received")
task_prerun = Signal("task_prerun")
task_postrun = Signal("task_postrun")
task_success = Signal("task_success")
task_failure = Signal("task_failure")
task_retry = Signal("task_retry")
task_revoked = Signal("task_revoked")
# Workers (sender: the worker; the pool process signals: none)
celeryd_init = Signal("celeryd_init")
worker_init = Signal("worker_init")
worker_ready = Signal("worker_ready")
worker_shutting_down = Signal("worker_shutting_down")
worker_shutdown = Signal("worker_shutdown")
worker_process_init = Signal("worker_process_init")
worker_process_shutdown = Signal("worker_process_shutdown")
# Beat (sender: the beat)
beat_init = Signal("beat_init")
beat_embedded_init = Signal("beat_embedded_init")
# Logging of the litequeue commands
setup_logging = Signal("setup_logging")
after_setup_logger = Signal("after_setup_logger")
after_setup_task_logger = Signal("after_setup_task_logger")
