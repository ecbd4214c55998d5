"""Celery's ``typing=True``: a call's arguments are checked against the task function's signature
when the job is sent, so ``add.delay(1)`` for ``add(x, y)`` fails at the call, not in a worker."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .task import Task


def check_arguments(task: Task, args: tuple | list, kwargs: dict) -> None:
    """Raise TypeError, as calling the function would, when the arguments do not fit its signature.
    The signature is read once per task and kept on it."""
    checked = task.__dict__.get("_call_signature")
    if checked is None:
        checked = task.__dict__["_call_signature"] = call_signature(task)
    expected, fewest, most = checked
    if expected is None or (not kwargs and fewest <= len(args) <= most):
        return  # unreadable (a builtin), or positional arguments in the simple range: no bind
    try:
        expected.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{task.name}{expected}: {exc}") from None


def call_signature(task: Task) -> tuple[Any, int, float]:
    """(the signature a call's arguments must fit, without ``self`` of a bound task; the fewest
    and most positional arguments that fit it alone), or (None, 0, inf) when it cannot be read."""
    from .task import Task

    try:
        signature = inspect.signature(task.run if type(task).run is not Task.run else task.fun)
    except (TypeError, ValueError):
        return None, 0, float("inf")
    params = list(signature.parameters.values())
    if task.options.bind and type(task).run is Task.run:
        params = params[1:]
        signature = signature.replace(parameters=params)
    if any(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in params):
        return signature, 1, 0  # a required keyword: always bind
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    fewest = sum(1 for p in positional if p.default is p.empty)
    most = float("inf") if any(p.kind is p.VAR_POSITIONAL for p in params) else len(positional)
    return signature, fewest, most
