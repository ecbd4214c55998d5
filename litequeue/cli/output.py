"""How commands print: one JSON convention (ISO-8601 UTC times, null for missing, one object per
line when streaming), local times for people, and colour on a terminal unless NO_COLOR is set."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any

import click

from .. import display

COLOURS = {"FAILURE": "red", "FAILED": "red", "LOST": "red", "DEAD": "red", "REVOKED": "yellow",
           "RETRY": "yellow", "SUCCESS": "green", "STARTED": "cyan", "RUNNING": "cyan"}


def to_json(data: Any, stream: bool = False) -> str:
    """``data`` as JSON: indented for a person, one line when ``stream`` (``--watch --json``)."""
    return json.dumps(data, default=str) if stream else json.dumps(data, indent=2, default=str)


def when(value: float | str | None) -> str:
    """A time (epoch seconds or an ISO string) in local time for people; ``-`` when missing."""
    if value is None:
        return "-"
    if not isinstance(value, str):
        return display.when(value)  # total: a time no date can hold is shown as the number
    try:
        return dt.datetime.fromisoformat(value).astimezone().isoformat(sep=" ", timespec="seconds")
    except (ValueError, OverflowError):
        return display.printable(value)


def coloured() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def paint(text: str, key: str | None = None) -> str:
    """``text`` in the colour of its state (``key``, or the text itself), when colour is on."""
    colour = COLOURS.get((key or text).upper())
    return click.style(text, fg=colour, bold=colour == "red") if colour and coloured() else text
