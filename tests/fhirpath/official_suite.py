"""The official FHIRPath test suite (R4): reading its cases and judging an evaluator's answer.

Each `<test>` of `fhirpath/tests-fhir-r4.xml` has an input resource (`input-json/`), an
expression and the expected output items, each with its FHIRPath type; or it marks the
expression `invalid` (it must be rejected: an error when compiling or evaluating). A test
with `predicate="true"` asks whether the result is non-empty.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str  # group/test, unique
    inputfile: str | None
    expression: str
    invalid: str | None  # syntax | semantic | execution | true, or None
    predicate: bool
    outputs: tuple[tuple[str, str], ...]  # (type, text)


def read_cases(suite: Path) -> list[Case]:
    root = ET.parse(suite).getroot()
    cases: list[Case] = []
    seen: set[str] = set()
    for group in root.iter("group"):
        for index, test in enumerate(group.findall("test")):
            expression = test.find("expression")
            assert expression is not None and expression.text is not None
            name = f"{group.get('name')}/{test.get('name') or f'#{index}'}"
            if name in seen:  # the suite repeats a test name once
                name = f"{name}#{index}"
            seen.add(name)
            cases.append(
                Case(
                    name=name,
                    inputfile=test.get("inputfile"),
                    expression=expression.text.strip(),
                    invalid=expression.get("invalid"),
                    predicate=test.get("predicate") == "true",
                    outputs=tuple(
                        (o.get("type") or "", o.text or "") for o in test.findall("output")
                    ),
                )
            )
    return cases


def read_input(folder: Path, inputfile: str | None) -> dict[str, Any]:
    if inputfile is None:
        return {}
    path = folder / (inputfile.rsplit(".", 1)[0] + ".json")
    loaded: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return loaded


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same(expected_type: str, expected: str, actual: Any) -> bool:
    if expected_type == "boolean":
        return isinstance(actual, bool) and _text(actual) == expected
    if expected_type in ("integer", "decimal"):
        if isinstance(actual, bool) or not isinstance(actual, int | float | Decimal):
            return False
        try:
            return Decimal(str(actual)) == Decimal(expected)
        except InvalidOperation:
            return False
    if expected_type in ("date", "dateTime", "time"):
        # the suite writes literals (@2015-02-04, @T14:34); evaluators give their text
        wanted = expected.lstrip("@").lstrip("T")
        return _text(actual).lstrip("@").lstrip("T") == wanted
    if expected_type == "Quantity":
        return " ".join(_text(actual).split()) == " ".join(expected.split())
    return _text(actual) == expected


def verdict(case: Case, run: Any) -> str | None:
    """None when the evaluator got the case right, else what went wrong.

    `run()` evaluates the case and returns the result collection (or raises)."""
    try:
        result = list(run())
    except Exception as exc:
        if case.invalid:
            return None
        return f"raised {type(exc).__name__}: {str(exc)[:120]}"
    if case.invalid:
        return f"not rejected (invalid={case.invalid}); gave {result[:3]!r}"
    if case.predicate:
        result = [bool(result)]
    if len(result) != len(case.outputs) or not all(
        _same(t, text, actual) for (t, text), actual in zip(case.outputs, result, strict=True)
    ):
        return f"gave {[_text(r) for r in result][:6]}, expected {[t for _, t in case.outputs][:6]}"
    return None
