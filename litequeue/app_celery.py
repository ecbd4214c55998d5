"""The parts of Celery's app surface that a Celery project calls on its app object: starting the
command line from the app (``app.start()``, ``app.worker_main()``), the configuration hooks
(``on_after_configure``), periodic tasks added in code, the modules a worker imports
(``include``, ``imports``, ``autodiscover_tasks``), and loading settings the Celery ways.

A mixin of LiteQueue, so every app has it; ``litequeue.Celery`` adds Celery's constructor.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .annotations import annotate
from .errors import ConfigurationError
from .signals import Signal

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger("litequeue.app")


class CeleryAppSurface:
    """Celery's app methods beyond tasks and sending (see the module docstring)."""

    conf: Settings
    main: str | None
    tasks: dict[str, Any]

    def _init_surface(self) -> None:
        self.on_configure = Signal("on_configure")
        self.on_after_configure = Signal("on_after_configure")
        self.on_after_finalize = Signal("on_after_finalize")
        self.finalized = False
        self._finalize_lock = threading.RLock()
        self._autodiscover: list[tuple[Any, str]] = []

    # -- running the command line from the app ----------------------------------------------------

    def start(self, argv: list[str] | None = None) -> None:
        """Run a litequeue command with this app, as ``python app.py worker -l INFO`` does when
        the script ends with ``app.start()``. ``argv`` defaults to the script's arguments."""
        from .cli import run_with_app

        run_with_app(self, _command_args(argv), standalone=True)  # type: ignore[arg-type]

    def worker_main(self, argv: list[str] | None = None) -> int:
        """Run a worker with this app: ``app.worker_main(['worker', '-l', 'INFO'])``. Returns
        its exit code when it stops."""
        args = _command_args(argv)
        if "worker" not in args:
            raise ConfigurationError("worker_main needs the worker command in argv, like "
                                     "app.worker_main(['worker', '-l', 'INFO']); use app.start() for others.")
        from .cli import run_with_app

        return run_with_app(self, args, standalone=False)  # type: ignore[arg-type]

    # -- configuration ------------------------------------------------------------------------------

    def config_from_object(self, obj: Any, silent: bool = False, force: bool = False,
                           namespace: str | None = None) -> None:
        """Load settings from an object, a module, or its name (``"celeryconfig"``,
        ``"django.conf:settings"``); with ``namespace="CELERY"`` only ``CELERY_*`` keys, read
        without the prefix. ``silent=True`` ignores a module that cannot be imported."""
        try:
            self.conf.from_object(obj, namespace=namespace)
        except ConfigurationError as exc:
            if silent and exc.message.startswith("Cannot import settings module"):
                return
            raise

    def config_from_envvar(self, variable_name: str, silent: bool = False, force: bool = False) -> None:
        """Load settings from the module named by the environment variable ``variable_name``."""
        module_name = os.environ.get(variable_name)
        if not module_name:
            if silent:
                return
            raise ConfigurationError(f"The environment variable {variable_name} is not set; set it to the "
                                     "name of your settings module.")
        self.config_from_object(module_name, silent=silent, force=force)

    def finalize(self, auto: bool = False) -> None:
        """Send the configuration hooks once and import the modules the app names (``include``,
        ``imports``, ``autodiscover_tasks``). Commands and beat call it after loading the app,
        so ``@app.on_after_configure.connect`` receivers run before the schedule is read."""
        with self._finalize_lock:
            if self.finalized:
                return
            self.finalized = True
            self.on_configure.send(sender=self)
            self.on_after_configure.send(sender=self, source=self.conf)
            self.import_default_modules()
            for task in list(self.tasks.values()):  # annotations loaded after the tasks were declared
                annotate(self.conf, task)
            self.on_after_finalize.send(sender=self)

    def import_default_modules(self) -> list[Any]:
        """Import ``include``, ``imports`` and the autodiscovered packages' task modules."""
        modules = [_import(name, "include") for name in (*self.conf.imports, *self.conf.include)]
        for packages, related_name in self._autodiscover:
            modules += _discover(packages() if callable(packages) else packages, related_name)
        return modules

    def autodiscover_tasks(self, packages: Iterable[str] | Callable[[], Iterable[str]] | None = None,
                           related_name: str = "tasks", force: bool = False) -> None:
        """Import ``<package>.tasks`` of each package when the app is finalized (at once with
        ``force=True``). With no packages, under Django, the INSTALLED_APPS; a package without
        such a module is skipped, one whose module fails to import is an error."""
        packages = _django_apps if packages is None else packages
        if force or self.finalized:
            _discover(packages() if callable(packages) else packages, related_name)
        else:
            self._autodiscover.append((packages, related_name))

    # -- periodic tasks in code --------------------------------------------------------------------

    def add_periodic_task(self, schedule: Any, sig: Any, args: tuple = (), kwargs: Mapping | None = None,
                          name: str | None = None, **opts: Any) -> str:
        """Add a beat_schedule entry running the signature ``sig`` on ``schedule`` (seconds, a
        timedelta or a crontab), usually from an ``on_after_configure`` receiver:
        ``sender.add_periodic_task(10.0, say.s('hello'), name='say hello')``. Returns its name."""
        task, sig_args, sig_kwargs, options = _signature_parts(sig)
        args = tuple(args) or sig_args
        kwargs = {**sig_kwargs, **(kwargs or {})}
        key = name or _call_repr(task, args, kwargs)
        if name is None and key in self.conf.beat_schedule:
            log.warning("add_periodic_task: an entry %r exists already and is replaced; give each a name=.", key)
        entry = {"task": task, "schedule": schedule, "args": args, "kwargs": kwargs, "options": {**options, **opts}}
        self.conf.beat_schedule = {**self.conf.beat_schedule, key: entry}
        return key


def _command_args(argv: list[str] | None) -> list[str]:
    """The command's arguments: the script's when none are given, without a leading program name."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] == sys.argv[0] or args[0].endswith(".py") or os.path.basename(args[0]) in
                 ("celery", "litequeue")):
        args = args[1:]
    return args


def _signature_parts(sig: Any) -> tuple[str, tuple, dict, dict]:
    """(task name, args, kwargs, options) of a signature (a dict with Celery's keys, as
    ``task.s()`` makes) or of a task."""
    if isinstance(sig, Mapping) and "task" in sig:
        return (str(sig["task"]), tuple(sig.get("args") or ()), dict(sig.get("kwargs") or {}),
                dict(sig.get("options") or {}))
    name = getattr(sig, "name", None)
    if isinstance(name, str) and callable(getattr(sig, "apply_async", None)):
        return name, (), {}, {}
    raise ConfigurationError(f"add_periodic_task needs a signature such as task.s(args...) or a task, "
                             f"not {sig!r}.")


def _call_repr(task: str, args: tuple, kwargs: dict) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{task}({', '.join(parts)})"


def _import(name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(f"Cannot import {name!r} (listed in the app's {what}): {exc}") from exc


def _discover(packages: Iterable[str], related_name: str) -> list[Any]:
    modules = []
    for package in packages:
        name = f"{package}.{related_name}" if related_name else package
        try:
            importlib.util.find_spec(name)
        except ImportError:  # the package itself is missing
            raise ConfigurationError(f"autodiscover_tasks: cannot import the package {package!r}.") from None
        if importlib.util.find_spec(name) is not None:
            modules.append(_import(name, "autodiscover_tasks packages"))
    return modules


def _django_apps() -> list[str]:
    """Django's INSTALLED_APPS (their packages), for autodiscover_tasks() under Django."""
    try:  # imported by name: Django is optional, and has no type information
        django = importlib.import_module("django")
        apps = importlib.import_module("django.apps").apps
    except ImportError:
        raise ConfigurationError("autodiscover_tasks() with no packages reads Django's INSTALLED_APPS, but "
                                 "Django is not installed; pass the packages: autodiscover_tasks(['proj']).") from None
    if not apps.ready:
        django.setup()  # as a Celery worker does under Django: the apps' models load first
    return [config.name for config in apps.get_app_configs()]
