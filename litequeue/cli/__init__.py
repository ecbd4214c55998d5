"""The command line: thin click commands over library calls.

Library errors become one clear line (``click.ClickException``), never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__, celery_settings
from ..app import LiteQueue
from .common import State, pass_state

# Each command's module (which lists it in COMMANDS), imported only when the command is used:
# ``litequeue worker`` starts without loading the status, inspect, schedule and multi commands.
COMMAND_MODULES = {
    "worker": "run", "call": "call", "result": "result", "status": "status", "inspect": "inspect",
    "revoke": "revoke", "purge": "cleanup", "prune": "cleanup", "failed": "failed", "retry": "failed",
    "queues": "queues", "dashboard": "dashboard",
    "beat": "schedule", "schedule": "schedule", "multi": "multi", "migrate-store": "migrate",
    "control": "control",
}


class LazyGroup(click.Group):
    """A group whose commands are loaded from their module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMAND_MODULES:
            return None
        module = importlib.import_module(f"{__package__}.{COMMAND_MODULES[name]}")
        return next(command for command in module.COMMANDS if command.name == name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="litequeue")
@click.option("-A", "--app", "app_path", metavar="MODULE[:ATTR]", help="The module defining your app and tasks.")
@click.pass_context
def main(ctx: click.Context, app_path: str | None) -> None:
    """litequeue: a background job queue in one SQLite file."""
    ctx.with_resource(celery_settings.notices_deferred())  # logged where they matter: worker, beat
    pass_state(ctx, app_path)


def run_with_app(app: LiteQueue, args: list[str], standalone: bool) -> int:
    """Run the command line with ``app`` as the -A app (``app.start()``, ``app.worker_main()``).
    Standalone: exits the process as the command does; else returns the exit code. A worker or
    beat detached with --detach ends its own process when it stops (see celery_flags)."""
    from .celery_flags import end_detached_copy

    if standalone:
        try:
            main.main(args=args, prog_name=os.path.basename(sys.argv[0]) or "litequeue", obj=State(None, app))
        except SystemExit as exc:
            end_detached_copy(exc.code)
            raise
    try:
        code = main.main(args=args, prog_name="litequeue", obj=State(None, app), standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        code = 1
    code = code if isinstance(code, int) else 0
    end_detached_copy(code)
    return code
