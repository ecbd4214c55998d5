"""Celery's publish signals, sent as Celery sends them: once per message (here, per job), with
that message's ``body``, ``headers``, ``exchange`` and ``routing_key``; ``before_task_publish``
also with ``properties``, ``declare`` and ``retry_policy``. The sender is the task's name.

Every send path (``delay``, ``apply_async``, ``send_task``, bulk sends, workflows, beat) calls
``before`` and ``after`` around the one transaction that stores its jobs, so a bulk send stays
one transaction and its receivers hear each job. With no receiver connected nothing is built.

Headers a ``before_task_publish`` receiver adds (a trace id, say) travel with the job to
``self.request.headers``, as they travel with Celery's message; the headers Celery itself
fills in (``id``, ``task``, ``eta``...) describe the job and cannot be changed this way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .celery_messages import CELERY_HEADERS, publish_arguments
from .errors import InvalidOptionError
from .signals import after_task_publish, before_task_publish

if TYPE_CHECKING:
    from .store import NewJob

log = logging.getLogger("litequeue.signals")
_noticed: set[str] = set()


def before(jobs: list[NewJob]) -> list[NewJob]:
    """Send ``before_task_publish`` once per message; returns the jobs, carrying the headers
    receivers added. (A job fanned out to several queues is one message, as Celery publishes it
    once to the exchange: its copies are not heard again, and carry the same headers.)"""
    if not before_task_publish.receivers:
        return jobs
    out: list[NewJob] = []
    message: tuple[NewJob, NewJob] | None = None  # (the last message as sent, as receivers left it)
    for job in jobs:
        if message is not None and is_copy(job, message[0]):
            out.append(job._replace(options=message[1].options) if message[1] is not message[0] else job)
            continue
        arguments = publish_arguments(job)
        given = dict(arguments["headers"])
        before_task_publish.send(sender=job.task, retry_policy=None, **arguments)
        changed = job if arguments["headers"] == given else _headers_set(job, given, arguments["headers"])
        message = (job, changed)
        out.append(changed)
    return out


def after(jobs: list[NewJob]) -> None:
    """Send ``after_task_publish`` once per stored message."""
    if not after_task_publish.receivers:
        return
    last: NewJob | None = None
    for job in jobs:
        if last is not None and is_copy(job, last):
            continue
        last = job
        arguments = publish_arguments(job)
        after_task_publish.send(sender=job.task, body=arguments["body"], headers=arguments["headers"],
                                exchange=arguments["exchange"], routing_key=arguments["routing_key"])


def is_copy(job: NewJob, message: NewJob) -> bool:
    """Whether ``job`` is a copy of ``message`` for another queue its routing key matched."""
    return job.body is message.body and job.task_id == f"{message.task_id}.{job.queue}"


def _headers_set(job: NewJob, given: dict, changed: dict) -> NewJob:
    """``job`` carrying the headers a receiver added or changed (Celery's own are the job's)."""
    from .calling import check_headers

    kept = [key for key in CELERY_HEADERS if changed.get(key) != given.get(key)]
    for key in kept:
        if key not in _noticed:
            _noticed.add(key)
            log.warning("A before_task_publish receiver changed the %r header; it describes the job and "
                        "is kept as it was. Add headers of your own instead.", key)
    own = {k: v for k, v in changed.items() if k not in CELERY_HEADERS}
    try:
        headers = check_headers(own)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"A before_task_publish receiver set headers litequeue cannot store: "
                                 f"{exc.message}") from None
    return job._replace(options={**(job.options or {}), "headers": headers} if headers else
                        {k: v for k, v in (job.options or {}).items() if k != "headers"} or None)
