"""Names and ids (queues, tasks, routing keys, job ids): what they may hold."""

from __future__ import annotations

from typing import Any

from .display import printable, unsafe_character
from .errors import InvalidOptionError

MAX_NAME_LENGTH = 200


def check_name(value: Any, what: str) -> str:
    """Return a queue, task or routing-key name, or raise naming what is wrong with it."""
    if not isinstance(value, str) or not value:
        raise InvalidOptionError(f"{what} must be a non-empty string, not {value!r}.")
    if "\x00" in value:
        raise InvalidOptionError(f"{what} {value!r} contains a NUL character; remove it.")
    bad = unsafe_character(value)
    if bad is not None:  # a control character forges log lines; a lone surrogate cannot be stored
        raise InvalidOptionError(f"{what} {printable(value)!r} contains the character {printable(bad)}; names "
                                 "and ids may hold only printable characters.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidOptionError(f"{what} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return value
