"""Celery's view of a job, for signal receivers written for Celery: the message ``body``,
``headers`` and ``properties`` a publish signal carries, and the ``request`` of a job a worker
received or revoked. Built only when a receiver is connected."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from . import serialization

if TYPE_CHECKING:
    from .store import Job, NewJob
    from .task import Request


# The headers Celery fills in itself: they describe the job (the rest are the sender's own).
CELERY_HEADERS = frozenset({"lang", "task", "id", "root_id", "parent_id", "eta", "expires", "retries", "group"})


def publish_arguments(job: NewJob) -> dict:
    """The keyword arguments Celery's before_task_publish receivers take, for one job's message."""
    headers = {
        "lang": "py", "task": job.task, "id": job.task_id, "root_id": job.task_id, "parent_id": None,
        "eta": _iso(job.eta), "expires": _iso(job.expires), "retries": 0, "group": None,
        **((job.options or {}).get("headers") or {}),
    }
    return {
        "body": _body(job.body, job.content_type), "exchange": "", "routing_key": job.routing_key,
        "headers": headers, "properties": {"correlation_id": job.task_id, "priority": job.priority,
                                           "content_type": job.content_type},
        "declare": [],
    }


def request_of(job: Job, hostname: str) -> Request:
    """A Request for a job the worker holds but has not run (task_received, task_revoked)."""
    from .task import Request

    args, kwargs = _body(job.body, job.content_type)[:2]
    return Request(id=job.task_id, task=job.task, args=tuple(args), kwargs=dict(kwargs),
                   retries=max(job.attempts - 1, 0), eta=job.eta, expires=job.expires, hostname=hostname,
                   called_directly=False, headers=job.options.get("headers"),
                   delivery_info={"queue": job.queue, "routing_key": job.routing_key, "priority": job.priority})


def _body(body: bytes | None, content_type: str) -> tuple:
    """(args, kwargs, embed), as in Celery's message body (protocol 2)."""
    try:
        args, kwargs = serialization.loads(body, content_type, frozenset({content_type}))
    except Exception:
        return (), {}, {}
    return tuple(args), dict(kwargs), {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def _iso(epoch: float | None) -> Any:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
