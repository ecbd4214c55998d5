"""Which queues a worker consumes, as its row in the store says: Celery's ``add_consumer`` and
``cancel_consumer`` change that row, and the worker follows it within a second.

The row's ``queues`` text is ``a,b`` (these queues, in this order), ``*`` (every queue), or
``*,-x,-y`` (every queue but x and y: ``-X``, or ``cancel_consumer`` on a worker of every queue).
"""

from __future__ import annotations

from collections.abc import Sequence

EVERY = "*"


def parse(text: str) -> tuple[list[str] | None, tuple[str, ...]]:
    """(the queues in order, or None for every queue; the queues left out of "every queue")."""
    parts = [part for part in text.split(",") if part]
    if not parts or parts[0] == EVERY:
        return None, tuple(part[1:] for part in parts[1:] if part.startswith("-"))
    return parts, ()


def render(queues: Sequence[str] | None, exclude: Sequence[str] = ()) -> str:
    """The row's text for these queues (None: every queue but ``exclude``)."""
    if queues is None:
        return ",".join([EVERY, *(f"-{name}" for name in exclude)])
    return ",".join(queues)


def consumes(text: str, queue: str) -> bool:
    queues, exclude = parse(text)
    return queue not in exclude if queues is None else queue in queues


def describe(text: str) -> str:
    """For people: ``a, b``, ``every queue`` or ``every queue but x, y``."""
    queues, exclude = parse(text)
    if queues is not None:
        return ", ".join(queues)
    return "every queue" + (f" but {', '.join(exclude)}" if exclude else "")


def added(text: str, queue: str) -> tuple[str, str]:
    """(the row's text once ``queue`` is added, Celery's reply)."""
    if consumes(text, queue):
        return text, f"already consuming from {queue}"
    queues, exclude = parse(text)
    if queues is None:
        return render(None, [name for name in exclude if name != queue]), f"add consumer {queue}"
    return render([*queues, queue]), f"add consumer {queue}"


def cancelled(text: str, queue: str) -> tuple[str | None, str]:
    """(the row's text once ``queue`` is cancelled, or None when that would leave the worker
    nothing to consume; Celery's reply, or why not)."""
    queues, exclude = parse(text)
    if queues is None:
        kept = text if queue in exclude else render(None, [*exclude, queue])
        return kept, f"no longer consuming from {queue}"
    if queue not in queues:
        return text, f"no longer consuming from {queue}"
    rest = [name for name in queues if name != queue]
    if not rest:
        return None, (f"{queue} is the only queue it consumes; add another first (add_consumer), "
                      "or stop the worker (control shutdown)")
    return render(rest), f"no longer consuming from {queue}"
