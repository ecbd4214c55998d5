"""Turning arguments and results into bytes and back.

JSON is the default; datetimes, dates, times, UUIDs, Decimals, bytes, tuples and sets survive the
round trip through a small tagging scheme. Pickle is used only when the app asks for it, and a
worker only decodes content types listed in ``accept_content``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import pickle
import uuid
from collections.abc import Callable
from typing import Any

from .errors import ContentDisallowed, SerializationError

JSON = "application/json"
PICKLE = "application/x-python-serialize"
CONTENT_TYPES = {"json": JSON, "pickle": PICKLE}
_TAG = "__lq__"
_PLAIN = (str, int, float, bool, type(None))


def content_type_for(serializer: str) -> str:
    """The content type of a serializer name ("json" or "pickle")."""
    try:
        return CONTENT_TYPES[serializer]
    except KeyError:
        raise SerializationError(
            f"Unknown serializer {serializer!r}; use one of {sorted(CONTENT_TYPES)}."
        ) from None


def accepted_types(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Content types for an ``accept_content`` list (names or content types)."""
    return frozenset(CONTENT_TYPES.get(n, n) for n in names)


def dumps(value: Any, content_type: str = JSON) -> bytes:
    """Serialise ``value``; raise SerializationError naming what could not be encoded."""
    if content_type == PICKLE:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SerializationError(f"Cannot pickle {type(value).__name__}: {exc}") from exc
    try:
        return json.dumps(_tag(value), separators=(",", ":"), allow_nan=False).encode()
    except RecursionError:
        raise SerializationError(
            "Cannot encode as JSON: the value is nested too deeply (or contains itself). Pass a flatter "
            "structure, or a reference (a path or an id) to the data.") from None
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"Cannot encode as JSON: {exc}. Pass JSON-friendly values (str, numbers, lists, dicts, "
            "datetimes, UUIDs, Decimals, bytes), or set serializer='pickle'."
        ) from exc


_SCALARS = frozenset({str, int, float, bool, type(None)})
_CALL_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_NO_ARGUMENTS = b"[[],{}]"


def dumps_call(args: tuple, kwargs: dict, content_type: str = JSON) -> bytes:
    """Serialise a call's ``[args, kwargs]``; plain scalar arguments skip the tagging walk."""
    if content_type == JSON and all(type(a) in _SCALARS for a in args) and (
            not kwargs or (_TAG not in kwargs and all(type(v) in _SCALARS for v in kwargs.values()))):
        if not args and not kwargs:
            return _NO_ARGUMENTS
        try:
            return _CALL_ENCODER.encode([list(args), kwargs]).encode()
        except ValueError:
            pass  # NaN or infinity: let dumps() say so
    return dumps([list(args), kwargs], content_type)


def loads(data: bytes | str | None, content_type: str, accept: frozenset[str]) -> Any:
    """Decode ``data``; refuse content types not in ``accept`` without looking at the data."""
    if data is None:
        return None
    if content_type not in accept:
        raise ContentDisallowed(
            f"Refusing content of type {content_type!r}: accept_content allows only {sorted(accept)}."
        )
    if content_type == PICKLE:
        return pickle.loads(data if isinstance(data, bytes) else data.encode("latin-1"))
    if content_type == JSON:
        return json.loads(data, object_hook=_untag)
    raise ContentDisallowed(f"Unknown content type {content_type!r}.")


def to_plain(value: Any) -> Any:
    """``value`` as plain JSON types, tagged as ``dumps`` tags them (stored inside other JSON)."""
    try:
        return _tag(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"Cannot encode as JSON: {exc}.") from exc


def from_plain(value: Any) -> Any:
    """The value ``to_plain`` made plain."""
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if isinstance(value, dict):
        return _untag({k: from_plain(v) for k, v in value.items()})
    return value


def _tag(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        if isinstance(value, float) and value != value:
            raise ValueError("NaN is not JSON")
        return value
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, dict):
        if _TAG in value or not all(isinstance(k, str) for k in value):
            return {_TAG: "dict", "v": [[_tag(k), _tag(v)] for k, v in value.items()]}
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_tag(v) for v in value]}
    return _tag_scalar(value)


def _tag_scalar(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {_TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": str(value)}
    if isinstance(value, decimal.Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_TAG: "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": [_tag(v) for v in value]}
    if isinstance(value, BaseException):  # an errback's exc argument
        kind = type(value)
        return {_TAG: "exception", "v": [f"{kind.__module__}.{kind.__qualname__}", str(value)]}
    from .task import Request  # here, not at the top: task imports this module

    if isinstance(value, Request):  # an errback's request argument
        fields = {f: getattr(value, f) for f in value.__dataclass_fields__}
        return {_TAG: "request", "v": {f: _tag(v) for f, v in fields.items() if v is not ...}}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda v: dt.timedelta(seconds=v),
    "uuid": uuid.UUID,
    "decimal": decimal.Decimal,
    "bytes": base64.b64decode,
    "tuple": tuple,
    "set": set,
    "dict": lambda v: {_freeze(k): val for k, val in v},
    "exception": lambda v: _exception(*v),
    "request": lambda v: _request(v),
}


def _exception(type_name: str, message: str) -> BaseException:
    from .result import rebuild_exception  # here: result imports this module

    return rebuild_exception(type_name, message, None)


def _request(fields: dict) -> Any:
    from .task import Request  # here: task imports this module

    known = Request.__dataclass_fields__
    return Request(**{k: v for k, v in fields.items() if k in known})


def _freeze(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _untag(obj: dict) -> Any:
    tag = obj.get(_TAG)
    if tag is None or len(obj) != 2 or "v" not in obj:
        return obj
    decoder = _DECODERS.get(tag)
    return decoder(obj["v"]) if decoder else obj
