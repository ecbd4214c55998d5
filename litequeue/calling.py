"""Turning a call (``apply_async`` / ``send_task``) into jobs: options checked, routed, serialised.

Everything is validated before anything is written, so a bad call enqueues nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from random import getrandbits
from time import time_ns
from typing import TYPE_CHECKING, Any

from . import serialization
from .errors import (
    InvalidOptionError,
    PayloadTooLarge,
    SerializationError,
)
from .flow import spec_for
from .moments import eta_of_call, expires_of_call, seconds
from .request import current_request
from .routing import check_name
from .store import NewJob

if TYPE_CHECKING:
    from .app import LiteQueue
    from .task import Task


CALL_OPTIONS = frozenset({
    "countdown", "eta", "expires", "priority", "queue", "routing_key", "task_id", "retry",
    "retry_policy", "serializer", "time_limit", "soft_time_limit", "ignore_result", "exchange",
    "max_retries", "acks_late", "headers", "unique_for", "unique_key",
})
_RUN_OPTIONS = ("time_limit", "soft_time_limit")


def new_task_id() -> str:
    """A new job id: a UUID of version 7 (RFC 9562), time-ordered, so new ids go to the end of
    the store's id index instead of random pages of it (inserts stay fast as the table grows)."""
    global _ms_prefix
    ms, prefix = time_ns() // 1_000_000, _ms_prefix  # one read: threads may replace it meanwhile
    if prefix[0] != ms:  # the millisecond part is formatted once per millisecond
        h = f"{ms:012x}"
        prefix = _ms_prefix = (ms, f"{h[:8]}-{h[8:]}-7")
    rand = getrandbits(74)  # 12 bits of rand_a, then the variant (0b10) and 62 bits of rand_b
    return f"{prefix[1]}{rand >> 62:03x}-{0x8000 | ((rand >> 48) & 0x3fff):04x}-{rand & 0xffffffffffff:012x}"


_ms_prefix = (-1, "")


def task_id_sequence() -> Callable[[], str]:
    """Ids for the jobs of one bulk enqueue: UUIDv7s of one millisecond whose last 48 bits are a
    counter (unique within the batch, in order at the end of the id index) and 20 random bits (an
    id does not give away its neighbours)."""
    first = new_task_id()
    stem, counter = first[:-12], count(getrandbits(27))  # room for 2**27 ids
    return lambda: f"{stem}{next(counter) << 20 | getrandbits(20):012x}"


def parent_of_call(options: dict) -> str | None:
    """The parent a call's jobs are recorded with (``AsyncResult.parent``/``children``), taking
    Celery's ``parent_id`` and ``add_to_parent`` out of ``options``: ``parent_id`` when given,
    else the job whose task is running in this thread, unless ``add_to_parent=False``."""
    parent = options.pop("parent_id", None)
    add = options.pop("add_to_parent", True)
    if parent is not None:
        return check_name(parent, "parent_id")
    return running_job_id() if add else None


def running_job_id() -> str | None:
    """The id of the job whose task is running in this thread (sent by a worker), or None."""
    request = current_request()
    return request.id if request is not None and not request.called_directly else None


def with_parent(jobs: list[NewJob], parent: str) -> list[NewJob]:
    """The jobs with ``parent`` recorded as the job that started them."""
    return [job._replace(options={**(job.options or {}), "parent_id": parent}) for job in jobs]


def build_jobs(app: LiteQueue, name: str, args: Any, kwargs: Any, task: Task | None, options: dict) -> list[NewJob]:
    """Validate a call and return the jobs to write (one per matched queue)."""
    return template_for(app, name, task, options).jobs(args, kwargs, options.get("task_id"))


class CallTemplate:
    """What a call's options decide (schedule, priority, encoding, retries, ...), checked once;
    ``jobs()`` then turns each argument list into jobs. Many calls with the same options (a bulk
    enqueue) share one template."""

    def __init__(self, app: LiteQueue, name: str, task: Task | None, options: dict,
                 reusable: bool = False) -> None:
        unknown = set(options) - CALL_OPTIONS
        if unknown:
            raise InvalidOptionError(
                f"Unknown option(s) {sorted(unknown)} for {name}; known options are {sorted(CALL_OPTIONS)}.")
        self.app, self.name, self.task, self.options = app, check_name(name, "task name"), task, options
        self.key: tuple = ()  # set by template_for: (settings, their version, task options) it was made under
        now = time.time()
        conf = app.conf
        serializer = options.get("serializer") or (task.options.serializer if task else None) or conf.task_serializer
        self.content_type = serialization.content_type_for(serializer)
        # NewJob's fields after (task_id, body, task, queue, routing_key), up to durable.
        self._fields = (
            self.content_type, _priority(options, task, app), eta_of_call(options, now, conf.enable_utc),
            expires_of_call(options.get("expires", task.options.expires if task else None), now, conf.enable_utc),
            check_max_retries(options.get("max_retries", task.max_retries if task else conf.task_default_max_retries),
                         "max_retries"),
            _flag(options.get("acks_late", task.acks_late if task else conf.task_acks_late), "acks_late"),
            _flag(options.get("ignore_result", task.ignore_result if task else conf.task_ignore_result),
                  "ignore_result"),
        )
        self._run_options = _run_options(options, task, conf) or None
        self._flow = spec_for(self.name, task, options)  # unique and concurrency keys, made per call
        if options.get("task_id") is not None:
            check_name(options["task_id"], "task_id")
        # Routes are worked out once unless they may change from call to call: a router function
        # may look at the arguments, and a template kept across calls (``reusable``) must see a
        # route table edited in place.
        static = not app.routing.uses_arguments() and not (reusable and app.conf.task_routes is not None)
        self._routes = app.routing.route(name, (), {}, options, task) if static else None
        # NewJob's fields after (task_id, body) when there is one route: each job is one concatenation.
        self._rest = ((self.name, self._routes[0].queue, self._routes[0].routing_key, *self._fields,
                       self._routes[0].durable, self._run_options, None)
                      if self._routes and len(self._routes) == 1 and self._flow is None else None)

    def jobs(self, args: Any, kwargs: Any, task_id: str | None = None) -> list[NewJob]:
        """The jobs of one call with these arguments: one per queue its route matches."""
        if type(args) is tuple and kwargs is None:  # the common case (delay, starmap): nothing to check
            kwargs = {}
        else:
            args, kwargs = _check_args(self.name, args, kwargs)
        body = _encode_body(self.name, args, kwargs, self.content_type, self.app.conf.task_max_payload_bytes)
        task_id = task_id or new_task_id()
        if self._rest is not None:
            return [_new_job(NewJob, (task_id, body) + self._rest)]
        routes = self._routes or self.app.routing.route(self.name, args, kwargs, self.options, self.task)
        flow, now = self._flow, time.time()
        return [
            _new_job(NewJob, (task_id if i == 0 else f"{task_id}.{route.queue}",  # one id per copy of a fanned-out job
                              body, self.name, route.queue, route.routing_key, *self._fields, route.durable,
                              self._run_options,
                              flow.flow(args, kwargs, now, route.queue if i else None) if flow is not None else None))
            for i, route in enumerate(routes)
        ]

    def made_under(self, conf: Any, task: Task) -> bool:
        """Whether this kept template was made under these very settings and task options."""
        key = self.key
        return key[0] is conf and key[1] == conf._version and key[2] is task.options

    def one_job(self, args: tuple, next_id: Callable[[], str]) -> NewJob | None:
        """The job of a call with positional ``args`` only, or None when the call needs
        ``jobs()`` (several routes, or routes that depend on the arguments). Bulk enqueues."""
        if self._rest is None:
            return None
        body = _encode_body(self.name, args, {}, self.content_type, self.app.conf.task_max_payload_bytes)
        return _new_job(NewJob, (next_id(), body) + self._rest)


_ID_ONLY = frozenset({"task_id"})


def template_for(app: LiteQueue, name: str, task: Task | None, options: dict) -> CallTemplate:
    """The template of a call. A call with no options but its task_id (``delay()``) of a plain
    task of this app, under its own name, whose options need no clock (no default ``expires``),
    reuses the task's template until a setting is assigned or the task gets new options."""
    if (task is None or not task._reuses_template or task.app is not app or name != task.name
            or task.options.expires is not None or not options.keys() <= _ID_ONLY):
        return CallTemplate(app, name, task, options)
    if options.get("task_id") is not None:  # checked here: the kept template is made without it
        check_name(options["task_id"], "task_id")
    conf = app.conf
    kept = task._call_template
    if kept is not None and kept.made_under(conf, task):
        return kept
    template = task._call_template = CallTemplate(app, name, task, {}, reusable=True)
    template.key = (conf, conf._version, task.options)
    return template


_new_job = tuple.__new__  # NewJob from a tuple in field order, without keyword handling (bulk enqueues)


def _check_args(name: str, args: Any, kwargs: Any) -> tuple[tuple, dict]:
    args = () if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, (list, tuple)):
        raise InvalidOptionError(f"args for {name} must be a list or tuple, not {type(args).__name__}.")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise InvalidOptionError(f"kwargs for {name} must be a dict with string keys.")
    return tuple(args), kwargs


def _priority(options: dict, task: Task | None, app: LiteQueue) -> int:
    priority = options.get("priority")
    if priority is None:  # the task's (its own, else task_default_priority)
        priority = task.priority if task is not None else app.conf.task_default_priority
    if isinstance(priority, bool) or not isinstance(priority, int) or not -(2**31) <= priority < 2**31:
        raise InvalidOptionError(
            f"priority must be an integer (higher runs first) from {-(2**31)} to {2**31 - 1}, not {priority!r}.")
    return priority


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidOptionError(f"{what} must be True or False, not {value!r}.")
    return value


def check_max_retries(value: Any, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidOptionError(f"{what} must be an integer >= 0, or None for no limit; got {value!r}.")
    return value


def _run_options(options: dict, task: Task | None, conf: Any) -> dict:
    out: dict[str, Any] = {}
    lost = task.reject_on_worker_lost if task is not None else conf.task_reject_on_worker_lost
    if lost is not None:
        out["reject_on_worker_lost"] = _flag(lost, "reject_on_worker_lost")
    for key in _RUN_OPTIONS:
        value = options.get(key)
        if value is not None:
            out[key] = seconds(value, key) or None
    if options.get("headers"):
        out["headers"] = check_headers(options["headers"])
    return {k: v for k, v in out.items() if v is not None}


def check_headers(value: Any) -> dict:
    """apply_async(headers=...): a dict of names to plain data, kept with the job for request.headers."""
    import json

    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidOptionError(f"headers must be a dict with string keys, not {value!r}.")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"headers must hold plain data (str, numbers, lists, dicts): {exc}.") from None
    return dict(value)


def _encode_body(name: str, args: tuple, kwargs: dict, content_type: str, limit: int) -> bytes:
    try:
        body = serialization.dumps_call(args, kwargs, content_type)
    except SerializationError:
        raise _which_argument(name, args, kwargs, content_type) from None
    if len(body) > limit:
        raise PayloadTooLarge(
            f"The arguments of {name} take {len(body)} bytes, over task_max_payload_bytes ({limit}). "
            "Pass a reference (a path, a URL, a row id) instead of the data."
        )
    return body


def _which_argument(name: str, args: tuple, kwargs: dict, content_type: str) -> SerializationError:
    items = [(f"argument {i}", a) for i, a in enumerate(args)]
    items += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
    for label, value in items:
        try:
            serialization.dumps(value, content_type)
        except SerializationError as exc:
            return SerializationError(
                f"Cannot send {name}: {label} ({type(value).__name__}) cannot be serialised: {exc.message}")
    return SerializationError(f"Cannot serialise the arguments of {name}.")
