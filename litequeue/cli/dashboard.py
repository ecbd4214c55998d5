"""``litequeue dashboard``: serve the web dashboard, the HTTP API and /metrics for a store."""

from __future__ import annotations

import click

from .common import LEVELS, app_option, friendly_errors, open_existing, setup_logging


@click.command()
@click.argument("db")
@app_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --token or --basic-auth.")
@click.option("--port", type=click.IntRange(0, 65535), default=5555, show_default=True)
@click.option("--token", envvar="LITEQUEUE_DASHBOARD_TOKEN", help="Require this token (Bearer header, or "
              "open the page once with ?token=...). Also read from $LITEQUEUE_DASHBOARD_TOKEN.")
@click.option("--basic-auth", "basic_auth", metavar="USER:PASSWORD", envvar="LITEQUEUE_DASHBOARD_AUTH",
              help="Require these basic-auth credentials. Also read from $LITEQUEUE_DASHBOARD_AUTH.")
@click.option("--read-only", is_flag=True, help="Show everything, allow no action (retry, revoke, purge, pause).")
@click.option("-l", "--loglevel", type=click.Choice(LEVELS, case_sensitive=False), default="warning",
              show_default=True)
@click.pass_context
@friendly_errors
def dashboard(ctx: click.Context, db: str, app_path: str | None, host: str, port: int, token: str | None,
              basic_auth: str | None, read_only: bool, loglevel: str) -> None:
    """Serve a web dashboard for DB: queues, workers, jobs, schedules, actions, live updates,
    charts; its JSON API under /api/ and Prometheus metrics at /metrics."""
    if basic_auth is not None and ":" not in basic_auth:
        raise click.BadParameter("write it as user:password.", param_hint="--basic-auth")
    try:
        from ..web import Access, serve
    except ImportError as exc:
        raise click.ClickException(f"The dashboard needs the web extra ({exc.name} is missing): "
                                   "pip install 'litequeue-jobs[web]'.") from None
    setup_logging(loglevel)
    app = open_existing(ctx, db, app_path)
    serve(app, host, port, Access(token, basic_auth, read_only))


COMMANDS = [dashboard]
