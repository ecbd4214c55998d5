"""Sending many jobs at once: ``app.enqueue_many``, ``task.map``, ``task.starmap``, ``task.chunks``.

All the jobs of one bulk call are written in one transaction: every one is stored, or none. The
options of a call are checked once per task (a CallTemplate), so a bulk enqueue costs little more
per job than encoding its arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import publishing
from .calling import CallTemplate, parent_of_call, task_id_sequence, with_parent
from .errors import InvalidOptionError
from .publish_retry import call_retry, with_publish_retry
from .task import Task, TaskOptions

if TYPE_CHECKING:
    from .app import LiteQueue
    from .result import AsyncResult
    from .store import NewJob

CHUNK_TASK = "litequeue.chunk"


def enqueue_many(app: LiteQueue, calls: Iterable[Any], options: dict) -> list[AsyncResult]:
    """Send one job per call, all in one transaction. A call is ``(task, args)``, ``(task, args,
    kwargs)`` or ``(task, args, kwargs, options)``; ``task`` is a Task or a task name. ``options``
    apply to every call; a call's own options are added to them."""
    from .result import AsyncResult

    options = dict(options)
    retry, policy = call_retry(app.conf, options)
    parent = parent_of_call(options)  # one parent for the whole batch
    templates: dict[Any, CallTemplate] = {}  # by the call's Task (or name) and own options
    jobs: list[NewJob] = []
    firsts: list[str] = []
    next_id = task_id_sequence()
    for call in calls:
        if type(call) is tuple and len(call) == 2:  # (task, args): the common form, nothing to unpack
            (target, args), kwargs, own = call, None, None
            template = templates.get(target) if type(target) is str or type(target) is Task else None
            if template is not None and type(args) is tuple:
                job = template.one_job(args, next_id)
                if job is not None:
                    firsts.append(job.task_id)
                    jobs.append(job)
                    continue
        else:
            target, args, kwargs, own = _unpack(call)
        task = _task_of(app, target)  # refuses a target that is neither a Task nor a name
        template = None if own else templates.get(target)
        if template is None:
            name = target if type(target) is str else target.name
            template = CallTemplate(app, name, task, {**options, **own} if own else options)
            if not own:
                templates[target] = template
        made = template.jobs(args, kwargs, (own.get("task_id") if own else None) or next_id())
        firsts.append(made[0].task_id)
        jobs += made
    if not jobs:
        return []
    if parent is not None:  # sent by a running task: recorded as its children
        jobs = with_parent(jobs, parent)
    jobs = publishing.before(jobs)  # once per job, as Celery sends them once per message
    duplicates = with_publish_retry(app.store.enqueue, retry, policy, jobs) or {}
    publishing.after(jobs)
    if app.conf.task_always_eager:
        from .testing import run_eagerly

        for job in jobs:
            if job.task_id not in duplicates:
                run_eagerly(app, job.task_id)
    if duplicates:  # a unique job already there: its AsyncResult
        firsts = [duplicates.get(task_id, task_id) for task_id in firsts]
    return [AsyncResult(task_id, app=app) for task_id in firsts]


def chunk_calls(task: Task, items: Iterable[Any], size: int) -> list[tuple]:
    """The calls of ``task.chunks(items, size)``: one litequeue.chunk job per ``size`` items."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidOptionError(f"chunks() needs a chunk size of at least 1, not {size!r}.")
    items = [tuple(item) if isinstance(item, (list, tuple)) else (item,) for item in items]
    return [(CHUNK_TASK, (task.name, items[i:i + size])) for i in range(0, len(items), size)]


def register_chunk_task(app: LiteQueue) -> None:
    """Every app knows litequeue.chunk: it runs a task over a list of argument tuples in one job."""
    app._register(_run_chunk, TaskOptions(name=CHUNK_TASK, bind=True))


def _run_chunk(chunk: Task, name: str, items: list) -> list:
    from .worker.registry import resolve_task

    task = resolve_task(chunk.app, name)  # the rule every job's name meets
    return [task.run(*args) for args in items]


def _unpack(call: Any) -> tuple[Any, Any, Any, dict]:
    if not isinstance(call, (tuple, list)) or not 2 <= len(call) <= 4:
        raise InvalidOptionError(
            f"Each call of enqueue_many is (task, args), (task, args, kwargs) or (task, args, kwargs, options), "
            f"not {call!r}.")
    target, args, kwargs, own = (*call, None, None)[:4]
    if own is not None and not isinstance(own, dict):
        raise InvalidOptionError(f"The options of a call must be a dict, not {own!r}.")
    return target, args, kwargs, own or {}


def _task_of(app: LiteQueue, target: Any) -> Task | None:
    if isinstance(target, Task):
        return target
    if isinstance(target, str):
        return app.tasks.get(target)
    raise InvalidOptionError(f"A call names its task by a Task or a task name, not {target!r}.")
