"""The apps made in this process, and the current one: the most recently made.

What is made without ``app=`` (``AsyncResult(id)``, a signature, a group's results, a shared task)
uses the current app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import LiteQueue

_apps: list[LiteQueue] = []  # each LiteQueue adds itself when made; Celery(set_as_current=False) moves itself first


def default_app() -> LiteQueue:
    """The most recently created app (used by AsyncResult(id) without ``app=``)."""
    if not _apps:
        raise ConfigurationError("No LiteQueue app exists yet; create one: app = LiteQueue('app.sqlite').")
    return _apps[-1]
