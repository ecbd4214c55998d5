"""Queues, topic routing keys and task routes: which queue(s) a job goes to.

A routing key is words separated by dots. A queue's binding may use ``*`` (exactly one word) and
``#`` (zero or more words), as AMQP topic exchanges define them. A key that matches the bindings
of several queues delivers one job to each of them (fan-out); a key that matches none goes to the
default queue with a warning, or is refused when ``task_create_missing_queues`` is False.

Where a job goes is decided by the first of these that names a queue or a routing key: the call's
options, the task's own ``queue`` / ``routing_key``, ``task_routes`` (checked in order), and last
the defaults (``task_default_queue`` with ``task_default_routing_key``).
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError, InvalidOptionError
from .names import check_name

log = logging.getLogger("litequeue.routing")
PERSISTENT, TRANSIENT = 2, 1
ROUTE_KEYS = ("queue", "routing_key", "exchange")


def check_binding(key: str, what: str) -> str:
    """Return a binding key, or raise when it has an empty word (``"a..b"``, ``".a"``, ``"a."``)."""
    check_name(key, what)
    if any(word == "" for word in key.split(".")):
        fixed = ".".join(word for word in key.split(".") if word) or "#"
        raise ConfigurationError(
            f"{what} {key!r} has an empty word; words are separated by single dots (did you mean {fixed!r}?)."
        )
    return key


@dataclass(frozen=True)
class Queue:
    """A named queue. ``routing_key`` is its binding (default: its name); ``exchange`` the
    exchange it is bound to (default: ``task_default_exchange``); ``delivery_mode=1`` makes it
    transient: its jobs skip the wait for the disk and leave nothing behind once done."""

    name: str
    routing_key: str | None = None
    exchange: str | None = None
    delivery_mode: int = PERSISTENT
    concurrency: int | None = None  # at most this many of its jobs running at once, across all workers
    rate_limit: str | float | None = None  # at most this many starts per period, across all workers

    def __post_init__(self) -> None:
        where = f"task_queues: Queue {self.name!r}"
        from .flow import check_concurrency, parse_rate

        check_concurrency(self.concurrency, where)
        parse_rate(self.rate_limit, f"{where} rate_limit")
        try:
            check_name(self.name, "task_queues: a Queue's name")
            if self.exchange is not None:
                check_name(self.exchange, f"{where} exchange")
        except InvalidOptionError as exc:
            raise ConfigurationError(exc.message) from None
        if self.routing_key is not None:
            check_binding(self.routing_key, f"{where} routing_key")
        if isinstance(self.delivery_mode, bool) or self.delivery_mode not in (PERSISTENT, TRANSIENT):
            raise ConfigurationError(
                f"{where} has delivery_mode={self.delivery_mode!r}; use 2 (persistent, the default) "
                "or 1 (transient)."
            )

    @property
    def binding(self) -> str:
        """The binding key: ``routing_key``, or the queue's name when none was given."""
        return self.routing_key if self.routing_key is not None else self.name

    @property
    def durable(self) -> bool:
        return self.delivery_mode == PERSISTENT


def check_queues(value: Any, what: str = "task_queues") -> tuple[Queue, ...] | None:
    """Validate ``task_queues``: Queue objects or names. A name may appear more than once to bind
    the queue with several keys, always with the same delivery mode."""
    if value is None:
        return None
    if isinstance(value, (Queue, str)):
        value = (value,)
    if isinstance(value, dict):  # Celery 3 also allowed {name: {"routing_key": ...}}
        value = tuple(Queue(name, **(spec or {})) for name, spec in value.items())
    queues = tuple(Queue(q) if isinstance(q, str) else q for q in value)
    modes: dict[str, int] = {}
    for q in queues:
        if not isinstance(q, Queue):
            raise ConfigurationError(f"{what} must hold Queue objects or queue names, not {q!r}.")
        if modes.setdefault(q.name, q.delivery_mode) != q.delivery_mode:
            raise ConfigurationError(
                f"{what} declares queue {q.name!r} twice with different delivery_mode; give every "
                "binding of one queue the same delivery_mode."
            )
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


# -- task_routes ------------------------------------------------------------------------------

Router = Callable[..., "dict | None"]


def check_routes(value: Any, what: str = "task_routes") -> Any:
    """Validate ``task_routes``: a dict, a router function, or a list of them (a dotted name is
    imported, as Celery 3 allowed; a class is instantiated). Returns what the router uses."""
    if value is None:
        return None
    if isinstance(value, (dict, str)) or callable(value) or hasattr(value, "route_for_task"):
        return _check_router(value, what)
    if isinstance(value, (list, tuple)):
        return tuple(_check_router(r, f"{what}[{i}]") for i, r in enumerate(value))
    raise ConfigurationError(f"{what} must be a dict, a router function, or a list of them; not {value!r}.")


def _check_router(router: Any, what: str) -> Any:
    if isinstance(router, str):
        router = _import(router, what)
    if isinstance(router, type):
        router = router()
    if isinstance(router, dict):
        for pattern, target in router.items():
            if not isinstance(pattern, (str, re.Pattern)):
                raise ConfigurationError(f"{what} keys must be task names or patterns, not {pattern!r}.")
            _normalize(target, f"{what}[{pattern!r}]")
        return router
    if callable(router) or hasattr(router, "route_for_task"):
        return router
    raise ConfigurationError(f"{what} entries must be dicts or router functions, not {router!r}.")


def _import(path: str, what: str) -> Any:
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"{what}: cannot import the router {path!r} ({exc}); check the dotted name.") from exc


def _normalize(target: Any, what: str) -> dict | None:
    """A route target as a dict with some of queue / routing_key / exchange; None for no decision."""
    if target is None:
        return None
    if isinstance(target, str):
        target = {"queue": target}
    elif isinstance(target, Queue):
        target = {"queue": target.name}
    if not isinstance(target, dict):
        raise ConfigurationError(
            f"{what}: a route is a queue name or a dict with 'queue' and/or 'routing_key', not {target!r}."
        )
    unknown = set(target) - set(ROUTE_KEYS)
    if unknown:
        raise ConfigurationError(f"{what}: unknown route key(s) {sorted(unknown)}; a route may set {list(ROUTE_KEYS)}.")
    if target.get("queue") is None and target.get("routing_key") is None:
        raise ConfigurationError(f"{what}: the route {target!r} names no queue or routing_key; give at least one.")
    if isinstance(target.get("queue"), Queue):
        target = {**target, "queue": target["queue"].name}
    return target


def _apply_router(router: Any, name: str, args: tuple, kwargs: dict, options: dict, task: Any) -> dict | None:
    if isinstance(router, dict):
        if name in router:
            return _normalize(router[name], f"task_routes[{name!r}]")
        for pattern, target in router.items():
            if isinstance(pattern, re.Pattern):
                if pattern.match(name):
                    return _normalize(target, f"task_routes[{pattern.pattern!r}]")
            elif any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
                return _normalize(target, f"task_routes[{pattern!r}]")
        return None
    if hasattr(router, "route_for_task"):  # Celery 3 router classes
        return _normalize(router.route_for_task(name, args, kwargs), f"task_routes router {router!r}")
    return _normalize(router(name, args, kwargs, options, task=task), f"task_routes router {router!r}")


# -- deciding a job's queue(s) ----------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where one job goes: its queue, its routing key, and whether the queue is persistent."""

    queue: str
    routing_key: str
    durable: bool = True


class Routing:
    """Decides the queue(s) of a job from the call, the task, ``task_routes`` and the defaults."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self._checked: tuple | None = None

    def route(self, name: str, args: tuple, kwargs: dict, options: dict, task: Any = None) -> list[Route]:
        """The routes of one job (one per matched queue, the first declared first)."""
        self.check()
        found = _pick(options) or _pick(_task_options(task)) or self._from_routes(name, args, kwargs, options, task)
        if not found:
            return [self._to_queue(self.conf.task_default_queue, self.conf.task_default_routing_key)]
        queue, key = found.get("queue"), found.get("routing_key")
        if isinstance(queue, Queue):
            queue = queue.name
        if queue is not None:
            return [self._to_queue(check_name(queue, "queue"), key)]
        exchange = found.get("exchange") or self.conf.task_default_exchange
        return self._by_key(check_name(key, "routing_key"), exchange)

    def uses_arguments(self) -> bool:
        """True when a router function in task_routes may route on a job's arguments (so the
        route of one call says nothing about the next call's)."""
        routes = self.conf.task_routes
        routers = routes if isinstance(routes, tuple) else (routes,)
        return any(callable(r) or hasattr(r, "route_for_task") for r in routers if r is not None)

    def declared(self) -> dict[str, Queue]:
        """The queues of ``task_queues`` by name (the first declaration of each)."""
        declared: dict[str, Queue] = {}
        for q in self.conf.task_queues or ():
            declared.setdefault(q.name, q)
        return declared

    def check(self) -> None:
        """Refuse settings that cannot route: with ``task_create_missing_queues=False``, a default
        queue or a route naming a queue that ``task_queues`` does not declare, or a route's key no
        binding matches. Settings call it after a load; routing calls it before first use."""
        conf = self.conf
        state = (id(conf.task_queues), id(conf.task_routes), conf.task_create_missing_queues,
                 conf.task_default_queue, conf.task_default_exchange, conf.task_default_exchange_type)
        if state == self._checked:
            return
        if conf.task_queues is not None and not conf.task_create_missing_queues:
            self._check_declared(conf.task_default_queue, "task_default_queue")
            for where, target in _static_routes(conf.task_routes):
                if target.get("queue") is not None:
                    self._check_declared(target["queue"], where)
                elif not self._matching(target["routing_key"], target.get("exchange") or conf.task_default_exchange):
                    raise ConfigurationError(
                        f"{where} routes to routing_key {target['routing_key']!r}, which no binding in "
                        "task_queues matches, and task_create_missing_queues is False; add a Queue bound to it."
                    )
        self._checked = state

    def check_worker_queues(self, queues: Iterable[str]) -> None:
        """Refuse ``-Q`` names that are not declared when missing queues are not created."""
        if self.conf.task_queues is None or self.conf.task_create_missing_queues:
            return
        declared = self.declared()
        missing = [q for q in queues if q not in declared]
        if missing:
            raise ConfigurationError(
                f"-Q names queue(s) {', '.join(missing)} that task_queues does not declare, and "
                f"task_create_missing_queues is False; choose from {', '.join(declared)}, or declare them."
            )

    def _check_declared(self, queue: str, where: str) -> None:
        declared = self.declared()
        if queue not in declared:
            raise ConfigurationError(
                f"{where} sends jobs to queue {queue!r}, which task_queues does not declare, and "
                f"task_create_missing_queues is False; add Queue({queue!r}) to task_queues or use one of "
                + ", ".join(declared) + "."
            )

    def _to_queue(self, name: str, key: str | None) -> Route:
        q = self.declared().get(name)
        if q is None and self.conf.task_queues is not None and not self.conf.task_create_missing_queues:
            self._check_declared(name, "This call")
        if key is None:
            literal = q is not None and "*" not in q.binding and "#" not in q.binding
            key = q.binding if literal else name  # type: ignore[union-attr]
        return Route(name, key, q.durable if q is not None else True)

    def _matching(self, key: str, exchange: str) -> list[Queue]:
        """Declared queues on ``exchange`` whose binding matches ``key``, each queue once."""
        direct = self.conf.task_default_exchange_type == "direct"
        found: dict[str, Queue] = {}
        for q in self.conf.task_queues or ():
            if (q.exchange or self.conf.task_default_exchange) != exchange or q.name in found:
                continue
            if (q.binding == key) if direct else topic_matches(q.binding, key):
                found[q.name] = q
        return list(found.values())

    def _by_key(self, key: str, exchange: str) -> list[Route]:
        matched = self._matching(key, exchange)
        if matched:
            return [Route(q.name, key, q.durable) for q in matched]
        if self.conf.task_queues is not None and not self.conf.task_create_missing_queues:
            raise ConfigurationError(
                f"Routing key {key!r} matches no binding in task_queues (exchange {exchange!r}) and "
                "task_create_missing_queues is False; add a Queue bound to it, or send to a queue by name."
            )
        default = self.conf.task_default_queue
        if self.conf.task_queues:
            log.warning("Routing key %r matches no queue; sending to the default queue %r.", key, default)
        return [Route(default, key, self._to_queue(default, key).durable)]

    def _from_routes(self, name: str, args: tuple, kwargs: dict, options: dict, task: Any) -> dict | None:
        routes = self.conf.task_routes
        if routes is None:
            return None
        for router in routes if isinstance(routes, tuple) else (routes,):
            found = _apply_router(router, name, args, kwargs, options, task)
            if found:
                return found
        return None


def _pick(options: dict) -> dict | None:
    """The routing part of call or task options, when they name a queue or a routing key."""
    if options.get("queue") is None and options.get("routing_key") is None:
        return None
    return {k: options.get(k) for k in ROUTE_KEYS}


def _task_options(task: Any) -> dict:
    if task is None:
        return {}
    return {"queue": getattr(task, "queue", None), "routing_key": getattr(task, "routing_key", None)}


def _static_routes(routes: Any) -> Iterable[tuple[str, dict]]:
    """(where, target) of every route written in a dict; router functions decide at call time."""
    for router in routes if isinstance(routes, tuple) else (routes,) if routes is not None else ():
        if isinstance(router, dict):
            for pattern, target in router.items():
                label = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
                normalized = _normalize(target, f"task_routes[{label!r}]")
                if normalized:
                    yield f"task_routes[{label!r}]", normalized
