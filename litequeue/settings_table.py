"""``app.conf.table()``: the settings as plain data, as Celery's ``inspect conf`` shows them.

Values that are not plain data (a router function, a schedule object) are shown by their repr;
secrets are hidden, as Celery hides them: keys naming a key, token, secret or password show
``********``, and a password inside a URL shows ``**``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HIDDEN_KEYS = re.compile(r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|DATABASE", re.IGNORECASE)
CENSORED = "********"


def table(conf: Any, with_defaults: bool = False, censored: bool = True) -> dict[str, Any]:
    """{setting: value} of ``conf`` as given in code or configuration (as Celery's table, without
    what broker_url and result_backend read from the environment): every setting, or only those
    not at their default; with the Celery settings accepted without effect here, as they were given."""
    defaults = type(conf)()
    values = {f.name: conf.given(f.name) for f in dataclasses.fields(conf)}
    if not with_defaults:
        values = {k: v for k, v in values.items() if v != defaults.given(k)}
    values.update(conf.__dict__.get("_foreign", {}))
    return {key: _shown(key, value, censored) for key, value in sorted(values.items())}


def _shown(key: str, value: Any, censored: bool) -> Any:
    if censored and value and HIDDEN_KEYS.search(key) and not key.endswith(("_url", "_backend")):
        return CENSORED
    if censored and isinstance(value, str) and "://" in value:
        return sanitized_url(value)
    return plain(value)


def plain(value: Any) -> Any:
    """``value`` as JSON data: containers walked, anything else by its repr."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return repr(value)


def sanitized_url(url: str) -> str:
    """``url`` with its password, if any, shown as ``**``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:**@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
