"""The command line: thin click commands over library calls.

Library errors become one clear line (``click.ClickException``), never a traceback.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import pass_state


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="litequeue")
@click.option("-A", "--app", "app_path", metavar="MODULE[:ATTR]", help="The module defining your app and tasks.")
@click.pass_context
def main(ctx: click.Context, app_path: str | None) -> None:
    """litequeue: a background job queue in one SQLite file."""
    pass_state(ctx, app_path)


def _register() -> None:
    # Each module lists its click commands in COMMANDS.
    from . import admin, failed, migrate, multi, queues, run, schedule

    for module in (run, admin, failed, queues, schedule, multi, migrate):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
