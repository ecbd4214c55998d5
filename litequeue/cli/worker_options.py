"""What ``litequeue worker`` and ``litequeue multi start`` share: the options a worker runs with,
declared once (multi passes each one given on to the workers it starts), and Celery's node-name
placeholders (``%h``, ``%n``, ``%d``...), expanded by one function for ``-n``, ``--pidfile`` and
``--logfile``."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from ..worker.options import POOLS


def _autoscale(value: str | None) -> tuple[int, int] | None:
    """--autoscale=MAX,MIN (Celery's order); MIN may be left out (0)."""
    if value is None:
        return None
    try:
        numbers = [int(part) for part in value.split(",")]
        most, least = (numbers + [0])[:2] if len(numbers) in (1, 2) else (0, -1)
    except ValueError:
        most, least = 0, -1
    if not 1 <= most or not 0 <= least <= most:
        raise click.BadParameter(f"{value!r}: give MAX,MIN with 1 <= MAX and 0 <= MIN <= MAX, e.g. 10,3.",
                                 param_hint="--autoscale")
    return most, least


@dataclass(frozen=True)
class WorkerFlag:
    """One option of the worker command: how click declares it, and how it is written again on
    the command line of a worker that ``multi`` starts."""

    decls: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.decls[-1].lstrip("-").replace("-", "_")

    def option(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return click.option(*self.decls, **self.attrs)(fn)

    def argv(self, value: Any) -> list[str]:
        """This option with ``value`` as command-line words (none when it was not given)."""
        if value is None or value is False:
            return []
        if value is True:
            return [self.decls[0]]
        if isinstance(value, tuple):  # --autoscale MAX,MIN
            value = ",".join(map(str, value))
        return [self.decls[0], str(value)]


_SECONDS = click.FloatRange(min=0, min_open=True)

WORKER_FLAGS = (
    WorkerFlag(("-c", "--concurrency"), {"type": click.IntRange(min=1),
               "help": "Pool processes, or threads with -P threads (default: CPU count)."}),
    WorkerFlag(("-P", "--pool"), {"type": click.Choice(POOLS), "default": None,
               "help": "prefork (the default): child processes; threads: threads in the worker (I/O-bound "
                       "tasks); solo: one job at a time in the worker's loop (debugging)."}),
    WorkerFlag(("--autoscale",), {"callback": lambda ctx, param, value: _autoscale(value), "metavar": "MAX,MIN",
               "help": "Grow the pool up to MAX processes while jobs wait, shrink it to MIN when idle."}),
    WorkerFlag(("-Q", "--queues"), {"help": "Only these queues, comma-separated, in strict priority order."}),
    WorkerFlag(("-X", "--exclude-queues"), {"help": "All queues but these, comma-separated."}),
    WorkerFlag(("--queue-order",), {"type": click.Choice(["strict", "round-robin"]), "default": None,
               "help": "How the worker takes from its queues: strict (the default) or round-robin."}),
    WorkerFlag(("-B", "--beat"), {"is_flag": True,
               "help": "Also run beat: send the schedule's due jobs (safe on many workers)."}),
    WorkerFlag(("--time-limit",), {"type": _SECONDS, "help": "Hard time limit per job (s)."}),
    WorkerFlag(("--soft-time-limit",), {"type": _SECONDS, "help": "Soft time limit per job (s)."}),
    WorkerFlag(("--max-tasks-per-child",), {"type": click.IntRange(min=1),
               "help": "Replace a child after this many jobs."}),
    WorkerFlag(("--max-memory-per-child",), {"type": click.IntRange(min=1),
               "help": "Replace a child past this RSS (KiB)."}),
    WorkerFlag(("--import-tasks-by-name",), {"is_flag": True,
               "help": "Also run litequeue tasks found by importing a job's task name (trusted producers only)."}),
)


def worker_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Declare every option of WORKER_FLAGS on the command ``fn``."""
    for flag in reversed(WORKER_FLAGS):
        fn = flag.option(fn)
    return fn


def worker_argv(values: dict[str, Any]) -> list[str]:
    """The WORKER_FLAGS given in ``values`` (a command's parameters), as command-line words."""
    return [word for flag in WORKER_FLAGS for word in flag.argv(values.get(flag.key))]


def expand(template: str, fullname: str | None = None) -> str:
    """Celery's placeholders in ``template``: %h host name, %d its domain, %% a percent sign; %n
    the node name of the worker ``fullname`` (node@host), or without one (``-n`` itself) the
    host's first label; for a worker ``fullname`` also %p that full name, %i its pool process
    index (0: the main process) and %I the same with a separator (empty for the main process)."""
    host = fullname.partition("@")[2] if fullname else socket.gethostname()
    values = {"h": host, "n": host.partition(".")[0], "d": host.partition(".")[2], "%": "%"}
    if fullname:
        values.update({"n": fullname.partition("@")[0], "p": fullname, "i": "0", "I": ""})
    out, i = [], 0
    while i < len(template):
        if template[i] == "%" and i + 1 < len(template) and template[i + 1] in values:
            out.append(values[template[i + 1]])
            i += 2
        else:
            out.append(template[i])
            i += 1
    return "".join(out)
