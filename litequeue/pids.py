"""This process's id, read without a system call: kept current across ``os.fork()``.

Stores and wake-up sockets are per process (a forked child must open its own), so the enqueue
path asks for the pid on every call; ``os.getpid()`` is a system call each time.
"""

from __future__ import annotations

import os

_current = os.getpid()


def current() -> int:
    return _current


def _forked() -> None:
    global _current
    _current = os.getpid()


os.register_at_fork(after_in_child=_forked)
