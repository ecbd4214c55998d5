"""Serialization: JSON by default with rich types surviving the round trip; pickle only on request."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from litequeue import LiteQueue, serialization
from litequeue.errors import ContentDisallowed, LiteQueueError, SerializationError
from litequeue.serialization import JSON, PICKLE

ONLY_JSON = frozenset({JSON})

ROUND_TRIPS = {
    "naive datetime": dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
    "aware datetime": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "utc datetime": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "date": dt.date(1999, 12, 31),
    "time": dt.time(3, 4, 5, 6),
    "aware time": dt.time(3, 4, tzinfo=dt.UTC),
    "timedelta": dt.timedelta(days=2, seconds=1.5),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal keeps its digits": decimal.Decimal("1.10"),
    "big decimal": decimal.Decimal("123456789012345678901234567890.000000001"),
    "bytes": b"\x00\xff\x80binary",
    "empty bytes": b"",
    "tuple": (1, "two", 3.0),
    "nested tuples": (1, (2, (3, ())), [4, (5,)]),
    "set": {1, 2, 3},
    "dict with int keys": {1: "a", 2: "b"},
    "dict with tuple, None and bool keys": {(1, 2): "t", None: "n", True: "b", 1.5: "f"},
    "dict with date keys": {dt.date(2024, 1, 1): 1},
    "dict with a __lq__ key": {"__lq__": "datetime", "v": "2024-01-01"},
    "dict that looks like a tag": {"__lq__": "x", "v": 1},
    "__lq__ key nested in a list": [{"__lq__": "bytes", "v": "AAAA"}],
    "plain JSON": {"a": [1, 2.5, None, True, "s"], "b": {"c": {}}},
    "unicode": "ünïcödé ✓",
}


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_json_round_trip_keeps_value_and_type(value):
    back = serialization.loads(serialization.dumps(value), JSON, ONLY_JSON)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_pickle_round_trip_when_accepted(value):
    back = serialization.loads(serialization.dumps(value, PICKLE), PICKLE, frozenset({JSON, PICKLE}))
    assert back == value


def test_json_output_is_plain_json_for_plain_values():
    assert serialization.dumps({"a": [1, "x"]}) == b'{"a":[1,"x"]}'


def test_aware_datetime_keeps_its_offset():
    value = dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    back = serialization.loads(serialization.dumps(value), JSON, ONLY_JSON)
    assert back.utcoffset() == dt.timedelta(hours=-7)


@pytest.mark.parametrize("value", [object(), float("nan"), float("inf"), {1, object()}, lambda: 1],
                         ids=["object", "nan", "inf", "set of object", "lambda"])
def test_values_json_cannot_hold_raise_serialization_error(value):
    with pytest.raises(SerializationError) as info:
        serialization.dumps(value)
    assert isinstance(info.value, LiteQueueError)
    assert "pickle" in str(info.value)  # the fix is named


def test_pickle_content_is_refused_unless_accepted():
    data = serialization.dumps({"x": 1}, PICKLE)
    with pytest.raises(ContentDisallowed, match="accept_content"):
        serialization.loads(data, PICKLE, ONLY_JSON)


def test_refused_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    data = serialization.dumps(_Trap(str(marker)), PICKLE)
    with pytest.raises(ContentDisallowed):
        serialization.loads(data, PICKLE, ONLY_JSON)
    assert not marker.exists()
    serialization.loads(data, PICKLE, frozenset({PICKLE}))  # the trap works when unpickled
    assert marker.exists()


class _Trap:
    """Creates a file when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path: str) -> str:
    open(path, "w").close()
    return path


def test_unknown_content_type_is_refused():
    with pytest.raises(ContentDisallowed):
        serialization.loads(b"x", "application/x-yaml", frozenset({"application/x-yaml"}))


def test_unknown_serializer_name_is_a_clear_error():
    with pytest.raises(SerializationError, match="'yaml'.*'json', 'pickle'"):
        serialization.content_type_for("yaml")


def test_accept_content_names_map_to_content_types():
    assert serialization.accepted_types(["json", "pickle"]) == {JSON, PICKLE}
    assert serialization.accepted_types([PICKLE]) == {PICKLE}


def test_the_app_uses_json_unless_it_opts_in_to_pickle(tmp_path):
    app = LiteQueue(tmp_path / "s.sqlite")

    @app.task
    def takes(value):
        return value

    try:
        with pytest.raises(SerializationError):
            takes.delay(_Plain())
        by_json = takes.delay(dt.date(2024, 1, 1))
        by_pickle = takes.apply_async((_Plain(),), serializer="pickle")
        assert app.store.get(by_json.id).content_type == JSON
        assert app.store.get(by_pickle.id).content_type == PICKLE
        pickled_app = LiteQueue(tmp_path / "p.sqlite", task_serializer="pickle")
        r = pickled_app.send_task("elsewhere.takes", args=[_Plain()])
        assert pickled_app.store.get(r.id).content_type == PICKLE
        pickled_app.close()
    finally:
        app.close()


class _Plain:
    pass
