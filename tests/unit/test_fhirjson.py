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
    ],
)
def test_exact_numbers_round_trip(raw: bytes) -> None:
    assert fhirjson.dumps(fhirjson.loads(raw)) == raw


def test_plain_numbers_take_the_fast_path() -> None:
    value = fhirjson.loads(b'{"a":2.5,"b":3,"id":"4e5b-1e3","c":"1e3"}')
    assert type(value["a"]) is float and type(value["b"]) is int
    assert fhirjson.dumps(value) == b'{"a":2.5,"b":3,"id":"4e5b-1e3","c":"1e3"}'


def test_decimal_is_a_float_for_arithmetic_and_plain_for_validation() -> None:
    value = fhirjson.loads(b'{"a":1.50}')
    assert value["a"] == 1.5 and isinstance(value["a"], float)
    assert type(fhirjson.plain(value)["a"]) is float


@pytest.mark.parametrize("raw", [b'{"a":NaN,"b":1.50}', b'{"a":1.50', b'{"a":Infinity}'])
def test_invalid_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        fhirjson.loads(raw)
