"""Finding the app that ``-A`` names, the way Celery finds it.

``-A proj`` imports ``proj`` and takes its ``app`` or ``celery`` attribute; failing that, for a
package, looks in ``proj.celery`` the same way; failing that, takes the one app the module holds.
``-A proj.celery:app`` and ``-A proj.celery.app`` name the attribute directly.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import LiteQueue


def find_app(path: str) -> LiteQueue:
    """The app ``path`` names (``module``, ``module:attr`` or ``module.attr``)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as Celery does: the project's directory is importable
    found = _lookup(path)
    if isinstance(found, ModuleType):
        found = _app_in_module(found, path)
    if not _is_app(found):
        raise ConfigurationError(f"-A {path} names {type(found).__name__} {found!r}, not a litequeue app.")
    return found


def _lookup(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not attr:
        try:
            return _import(module_name)
        except _MissingModule:
            if "." not in module_name:
                raise
            module_name, _, attr = module_name.rpartition(".")
    module = _import(module_name)
    try:
        obj: Any = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    except AttributeError:
        raise ConfigurationError(f"Module {module_name!r} has no attribute {attr!r}; fix the -A value.") from None


def _app_in_module(module: ModuleType, path: str) -> LiteQueue:
    for attr in ("app", "celery"):
        value = getattr(module, attr, None)
        if _is_app(value):
            return value  # type: ignore[return-value]
    if getattr(module, "__path__", None):  # a package: its celery module, as in Celery's layout
        try:
            return find_app(f"{module.__name__}.celery")
        except _MissingModule:
            pass
    apps = list(dict.fromkeys(v for v in vars(module).values() if _is_app(v)))
    if len(apps) == 1:
        return apps[0]
    raise ConfigurationError(f"Found {'no' if not apps else 'several'} litequeue apps in {module.__name__}; "
                             f"name one with -A {path}:attribute.")


class _MissingModule(ConfigurationError):
    """The module itself is not there (as opposed to failing inside while importing)."""


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise _MissingModule(f"Cannot import the app module {name!r}: {exc}. Run from the directory "
                                 "that contains it, or fix the -A value.") from exc
        raise ConfigurationError(f"Importing the app module {name!r} failed: {exc}") from exc
    except ImportError as exc:
        raise ConfigurationError(f"Importing the app module {name!r} failed: {exc}") from exc


def _is_app(value: Any) -> bool:
    from .app import LiteQueue

    return isinstance(value, LiteQueue)
