"""FHIR JSON keeps the text of decimals whose float form would print differently."""

from __future__ import annotations

import pytest

from fhir_server import fhirjson


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1.50}',
        b'{"a":[1e3,2E-2]}',
        b'{"a":-3.0e+10}',
        b'{"a":0.12345678901234567891}',
        b'{"a":100.000,"b":"text 1.50"}',
        b"[1.10]",
        b"1.0",
    ],
)
def test_exact_numbers_round_trip(raw: bytes) -> None:
    assert fhirjson.dumps(fhirjson.loads(raw)) == raw


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        (b'{"a":"v2.4.0-100","b":[7,\n  -0.10]}', b'{"a":"v2.4.0-100","b":[7,-0.10]}'),
        (b'{"a": 12.340000000000000000001, "b": "x"}', b'{"a":12.340000000000000000001,"b":"x"}'),
        (b'{"a" :\t0.30000000000000001}', b'{"a":0.30000000000000001}'),  # float: 0.3
        (b'{"a":[1,2.5e3]}', b'{"a":[1,2.5e3]}'),
        (b'{"a" : 1E+2 }', b'{"a":1E+2}'),
        (b'[7e1]', b'[7e1]'),
    ],
)
def test_numbers_after_blanks_keep_their_text(raw: bytes, printed: bytes) -> None:
    assert fhirjson.dumps(fhirjson.loads(raw)) == printed


def test_plain_numbers_take_the_fast_path() -> None:
    value = fhirjson.loads(b'{"a":2.5,"b":3,"id":"4e5b-1e3","c":"1e3"}')
    assert type(value["a"]) is float and type(value["b"]) is int
    assert fhirjson.dumps(value) == b'{"a":2.5,"b":3,"id":"4e5b-1e3","c":"1e3"}'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"div":"Synthea v2.4.0-100 version 1.10","a":2.5}',  # text only, no number
        b'{"a":"x.0","b":"page 12.0"}',  # "12.0" follows a blank, not ":" "[" ","
        b'{"a":"1234567.12345678901234567"}',
        b'{"effective":"2011-10-14T23:37:54.530+02:00","b":1.5}',  # an instant: text
        b'{"value":3.4961958350963034,"c":[0.013669102117338738]}',  # print as they came
        b'{"fullUrl":"urn:uuid:6e8ba06d-8f","r":["x:1e5"],"n":2.5}',  # e-pairs in text
    ],
)
def test_fractions_in_text_do_not_leave_the_fast_path(raw: bytes) -> None:
    value = fhirjson.loads(raw)
    floats = [v for v in value.values() if isinstance(v, float)]
    assert all(type(v) is float for v in floats)
    assert fhirjson.dumps(value) == raw


def test_decimal_is_a_float_for_arithmetic_and_plain_for_validation() -> None:
    value = fhirjson.loads(b'{"a":1.50}')
    assert value["a"] == 1.5 and isinstance(value["a"], float)
    assert type(fhirjson.plain(value)["a"]) is float


@pytest.mark.parametrize("raw", [b'{"a":NaN,"b":1.50}', b'{"a":1.50', b'{"a":Infinity}'])
def test_invalid_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        fhirjson.loads(raw)
