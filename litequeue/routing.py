"""Queues, topic routing keys and task routes.

A routing key is words separated by dots. A queue's binding may use ``*`` (exactly one word) and
``#`` (zero or more words), as AMQP topic exchanges define them. A key that matches several
queues' bindings delivers a job to each of them; one that matches none goes to the default queue.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ConfigurationError, InvalidOptionError

log = logging.getLogger("litequeue.routing")
MAX_NAME_LENGTH = 200
PERSISTENT, TRANSIENT = 2, 1


def check_name(value: Any, what: str) -> str:
    """Return a queue, task or routing-key name, or raise naming what is wrong with it."""
    if not isinstance(value, str) or not value:
        raise InvalidOptionError(f"{what} must be a non-empty string, not {value!r}.")
    if "\x00" in value:
        raise InvalidOptionError(f"{what} {value!r} contains a NUL character; remove it.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidOptionError(f"{what} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return value


@dataclass(frozen=True)
class Queue:
    """A named queue. ``routing_key`` is its binding (default: its name); ``delivery_mode=1``
    makes it transient: jobs skip the wait for the disk and leave nothing behind once done."""

    name: str
    routing_key: str | None = None
    exchange: str | None = None
    delivery_mode: int = PERSISTENT

    def __post_init__(self) -> None:
        check_name(self.name, "Queue name")
        if self.routing_key is not None:
            check_binding(self.routing_key, f"Queue {self.name!r} routing_key")
        if self.delivery_mode not in (PERSISTENT, TRANSIENT):
            raise ConfigurationError(
                f"Queue {self.name!r} has delivery_mode={self.delivery_mode!r}; use 2 (persistent) or 1 (transient)."
            )

    @property
    def binding(self) -> str:
        return self.routing_key if self.routing_key is not None else self.name

    @property
    def durable(self) -> bool:
        return self.delivery_mode == PERSISTENT


def check_binding(key: str, what: str) -> str:
    check_name(key, what)
    if any(word == "" for word in key.split(".")):
        raise ConfigurationError(f"{what} {key!r} has an empty word; words are separated by single dots.")
    return key


def check_queues(value: Any, what: str = "task_queues") -> tuple[Queue, ...] | None:
    if value is None:
        return None
    if isinstance(value, (Queue, str)):
        value = (value,)
    queues = tuple(Queue(q) if isinstance(q, str) else q for q in value)
    for q in queues:
        if not isinstance(q, Queue):
            raise ConfigurationError(f"{what} must hold Queue objects or names, not {q!r}.")
    return queues


def topic_matches(binding: str, key: str) -> bool:
    """True when routing ``key`` matches ``binding`` (``*`` one word, ``#`` zero or more)."""
    return _match(tuple(binding.split(".")), tuple(key.split(".")) if key else ())


@functools.lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])


@dataclass(frozen=True)
class Route:
    """Where one job goes: its queue, its routing key, and whether the queue is persistent."""

    queue: str
    routing_key: str
    durable: bool = True


Router = Callable[..., "dict | None"]


class Routing:
    """Decides the queue(s) of a job from the call, the task, ``task_routes`` and the defaults."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def route(self, name: str, args: tuple, kwargs: dict, options: dict, task: Any = None) -> list[Route]:
        """The routes of one job: call options win over the task's own, then task_routes, then
        the default queue."""
        queue, key = options.get("queue"), options.get("routing_key")
        if queue is None and key is None and task is not None:
            queue, key = getattr(task, "queue", None), getattr(task, "routing_key", None)
        if queue is None and key is None:
            found = self._from_routes(name, args, kwargs, options, task)
            queue, key = found.get("queue"), found.get("routing_key")
        if isinstance(queue, Queue):
            queue = queue.name
        if queue is not None:
            return [self._to_queue(check_name(queue, "queue"), key)]
        if key is not None:
            return self._by_key(check_name(key, "routing_key"))
        default = self.conf.task_default_queue
        return [self._to_queue(default, self.conf.task_default_routing_key)]

    def declared(self) -> dict[str, Queue]:
        return {q.name: q for q in (self.conf.task_queues or ())}

    def _to_queue(self, name: str, key: str | None) -> Route:
        declared = self.declared()
        q = declared.get(name)
        if q is None and declared and not self.conf.task_create_missing_queues:
            raise ConfigurationError(
                f"Queue {name!r} is not declared in task_queues and task_create_missing_queues is "
                "False; declare it or route to one of " + ", ".join(sorted(declared)) + "."
            )
        if key is None:
            key = q.binding if q is not None and "*" not in q.binding and "#" not in q.binding else name
        return Route(name, key, q.durable if q is not None else True)

    def _by_key(self, key: str) -> list[Route]:
        matched = [q for q in self.declared().values() if topic_matches(q.binding, key)]
        if matched:
            return [Route(q.name, key, q.durable) for q in matched]
        if self.conf.task_queues and not self.conf.task_create_missing_queues:
            raise ConfigurationError(
                f"Routing key {key!r} matches no queue in task_queues and task_create_missing_queues "
                "is False; add a binding for it."
            )
        default = self.conf.task_default_queue
        if self.conf.task_queues:
            log.warning("Routing key %r matches no queue; sending to the default queue %r.", key, default)
        return [Route(default, key, self._to_queue(default, key).durable)]

    def _from_routes(self, name: str, args: tuple, kwargs: dict, options: dict, task: Any) -> dict:
        routes = self.conf.task_routes
        if not routes:
            return {}
        if isinstance(routes, (dict, str)) or callable(routes):
            routes = [routes]
        for router in routes:
            found = _apply_router(router, name, args, kwargs, options, task)
            if found:
                return found
        return {}


def _apply_router(router: Any, name: str, args: tuple, kwargs: dict, options: dict, task: Any) -> dict | None:
    if isinstance(router, dict):
        if name in router:
            return _normalize(router[name])
        for pattern, target in router.items():
            if isinstance(pattern, re.Pattern):
                if pattern.match(name):
                    return _normalize(target)
            elif any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
                return _normalize(target)
        return None
    if callable(router):
        return _normalize(router(name, args, kwargs, options, task=task))
    raise ConfigurationError(f"task_routes entries must be dicts or functions, not {router!r}.")


def _normalize(target: Any) -> dict | None:
    if target is None:
        return None
    if isinstance(target, str):
        return {"queue": target}
    if isinstance(target, Queue):
        return {"queue": target.name}
    if isinstance(target, dict):
        return target
    raise ConfigurationError(f"A route must be a queue name or a dict with 'queue'/'routing_key', not {target!r}.")
