"""Pool children started by ``spawn`` or ``forkserver``: they inherit nothing, so they find the
app again by importing it.

A forked child inherits the app from the worker's memory. A spawned one starts a fresh
interpreter; it receives a small picklable ``SpawnContext`` (where the app can be imported from,
the database URL, and the child's settings) and rebuilds its ChildContext from that.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .child import child_main
from .execute import ChildContext
from .registry import TaskResolver

if TYPE_CHECKING:
    from ..app import LiteQueue

# The name a spawned child gives the parent's main script (see multiprocessing.spawn).
_SPAWNED_MAIN = "__mp_main__"


@dataclass(frozen=True)
class AppReference:
    """Where an app can be imported from (``module``, ``attr``) and the database it was using."""

    module: str
    attr: str
    url: str | None

    @classmethod
    def of(cls, app: LiteQueue) -> AppReference:
        """Find a module attribute holding ``app`` (a module other than the main script if
        possible); refuse an app no child could import."""
        found = [(name, attr) for name, module in list(sys.modules.items())
                 if module is not None and name != _SPAWNED_MAIN
                 for attr, value in list(getattr(module, "__dict__", {}).items()) if value is app]
        found.sort(key=lambda place: place[0] == "__main__")
        found = [(name, attr) for name, attr in found if name != "__main__" or _main_defines(attr)]
        if found:
            return cls(found[0][0], found[0][1], app.url)
        raise ConfigurationError(
            "A worker using the 'spawn' or 'forkserver' start method needs an app its children can "
            "import: create the LiteQueue app at module level (not inside a function, nor under "
            "if __name__ == '__main__':), or use start_method='fork'."
        )

    def load(self) -> LiteQueue:
        """Import the app (in a spawned child) and point it at the parent's database."""
        module = importlib.import_module(self.module)
        app = getattr(module, self.attr)
        app.url = self.url
        if self.module == "__main__":
            _alias_main_tasks(app)
        return app


def _main_defines(attr: str) -> bool:
    """Whether the main script binds ``attr`` where a spawned child re-running it as
    __mp_main__ would too: at top level, outside ``if __name__ == "__main__":``."""
    path = getattr(sys.modules["__main__"], "__file__", None)
    if not path:
        return False  # an interactive session or python -c: a child cannot run it again
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return True  # cannot tell; let the child try
    return attr in _top_level_names(tree.body)


def _top_level_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            names |= _top_level_names(node.orelse)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                names |= _top_level_names(getattr(node, field, []))
        else:
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def _alias_main_tasks(app: LiteQueue) -> None:
    # The parent's script runs again in the child as __mp_main__, so its tasks register under
    # "__mp_main__.name" while the parent sends "__main__.name": make both names resolve.
    prefix = _SPAWNED_MAIN + "."
    for name, task in list(app.tasks.items()):
        if name.startswith(prefix):
            app.tasks.setdefault("__main__." + name[len(prefix):], task)


@dataclass(frozen=True)
class SpawnContext:
    """The picklable form of a ChildContext."""

    app: AppReference
    import_by_name: bool
    hostname: str
    accept: frozenset[str]
    result_content_type: str

    @classmethod
    def of(cls, ctx: ChildContext) -> SpawnContext:
        app = ctx.resolver.app
        return cls(AppReference.of(app), app.conf.worker_import_tasks_by_name, ctx.hostname,
                   ctx.accept, ctx.result_content_type)

    def rebuild(self) -> ChildContext:
        app = self.app.load()
        app.conf.worker_import_tasks_by_name = self.import_by_name  # the parent's, even if set at run time
        return ChildContext(TaskResolver(app), self.hostname, self.accept, self.result_content_type)


def spawned_child_main(conn: Any, feed: Any, ctx: SpawnContext, parent_pid: int, settings: Any) -> None:
    """A spawned child's entry point: import the app, then run the usual child loop."""
    # Under forkserver the child's parent is the fork server, which lives exactly as long as
    # the program that started the worker: watch that process instead.
    watched = parent_pid if os.getppid() == parent_pid else os.getppid()
    child_main(conn, feed, ctx.rebuild(), watched, settings)
