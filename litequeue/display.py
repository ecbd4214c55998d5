"""Showing stored values safely: text without terminal controls, times that always format.

Whatever a row holds was written by someone who may not be trusted (or by a bug): a task name
with an escape sequence or a newline would rewrite a terminal or forge a log line, and an eta of
1e308 cannot become a datetime. Everything the CLI and the worker's log show of a row goes
through these functions, which never raise.
"""

from __future__ import annotations

import datetime as dt
import re

# C0 and C1 controls, DEL, the bidirectional overrides and isolates, and lone surrogates (what an
# undecodable byte becomes): none belongs in a name, an id or a one-line message.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_BLOCKS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that must not be in a name, or None."""
    found = _UNSAFE.search(text)
    return found.group() if found else None


def printable(text: object) -> str:
    """``text`` on one line with every control character escaped (``\\x1b``, ``\\n``, ``\\u202e``)."""
    text = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def printable_block(text: object) -> str:
    """Like ``printable`` but keeping line breaks and tabs (a traceback)."""
    text = text if isinstance(text, str) else str(text)
    return _UNSAFE_IN_BLOCKS.sub(_escape, text) if _UNSAFE_IN_BLOCKS.search(text) else text


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def when(epoch: float | None, local: bool = True) -> str:
    """An epoch time as ``2026-01-02 03:04:05+00:00`` (local time, or UTC); a value no datetime
    can hold is shown as the number, marked out of range."""
    if epoch is None:
        return "-"
    try:
        moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
        return (moment.astimezone() if local else moment).isoformat(sep=" ", timespec="seconds")
    except (OverflowError, ValueError, OSError, TypeError):
        return f"{epoch!r} (out of range)"


def utc_datetime(epoch: float | None) -> dt.datetime | None:
    """An aware UTC datetime for ``epoch``, or None when there is none or it is out of range."""
    if epoch is None:
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
