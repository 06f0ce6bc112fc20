"""The collect path's JSON reads and writes exactly what the standard library would."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ascendkit_site import fastjson

BODIES = [
    b'{"events":[{"type":"pageview","url":"https://example.com/"}]}',
    b'{"a":1,"a":2}',  # the last of a repeated key wins
    b'{"a":"\\ud800x"}',  # a lone surrogate escape: orjson refuses it
    b'{"a":NaN,"b":Infinity}',
    b'{"a":1e400}',
    b'{"a":123456789012345678901234567890}',  # past 64 bits: orjson would make it a float
    b'{"a":-9999999999999999999,"b":18446744073709551615}',
    b'{"a":"1234567890123456789012"}',  # a long run of digits inside a string
    '{"a":"é"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"a":1}',
    b'{"a":-0.0,"b":1.0,"c":0.1,"d":1E2,"e":"\\u0000","f":"\\u2028"}',
    b' {"a":[]} ',
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_reads_as_the_standard_library_reads_it(body):
    assert fastjson.loads(body) == json.loads(body)
    assert repr(fastjson.loads(body)) == repr(json.loads(body))  # the same types: int stays int


@pytest.mark.parametrize("body", [b'{"a":"x\xff"}', b"[" * 5000 + b"]" * 5000, b"{", b"", b'{"a":1}x'])
def test_what_the_standard_library_refuses_is_refused(body):
    with pytest.raises((ValueError, RecursionError)):
        json.loads(body)
    with pytest.raises((ValueError, RecursionError)):
        fastjson.loads(body)


@pytest.mark.parametrize(
    "value",
    [
        {"client": {"device": {"browser": "Chrome"}, "screen_width": 1440}, "items": [{"at": "2026-12-01T10:00:00Z"}]},
        {"a": "é\u2028 ✓", "b": None, "c": True, "d": 1.5, "e": [1, 2.25, "x"]},
        {1: 2},  # orjson takes string keys only
        {"a": 2**70},  # nor integers past 64 bits
    ],
)
def test_a_value_is_written_as_compact_utf8_json(value):
    assert fastjson.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_string_the_database_handed_back_reads_too():
    assert fastjson.loads('{"a":"\\ud800"}') == {"a": "\ud800"}


def test_dataclasses_and_times_are_written_as_their_fields_either_way():
    @dataclass(frozen=True)
    class Inner:
        at: datetime
        n: int

    @dataclass(frozen=True)
    class Outer:
        inner: Inner
        name: str

    moment = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    value = Outer(inner=Inner(at=moment, n=1), name="é")
    expected = {"inner": {"at": moment.isoformat(), "n": 1}, "name": "é"}

    assert json.loads(fastjson.dumps(value)) == expected
    # Through the standard library (an integer past 64 bits is what orjson refuses).
    assert json.loads(fastjson.dumps([value, 2**70])) == [expected, 2**70]
