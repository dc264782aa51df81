"""The official FHIRPath test suite (R4, 935 cases) against the project's FHIRPath evaluation.

Two evaluators: fhirpathpy as the project runs it for expressions outside the compiled
subset (fhir_server.fhirpath.fallback, with its R4 rewrites), and the compiled walks
(fhir_server.fhirpath.compiled) for every case whose expression lies wholly inside the
compiled subset. Known failures are listed with a reason in
official_suite_expected_failures.json; a test fails on any new failure and on any listed
case that starts passing (then take it off the list).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhir_server.fhirpath import compile_expression
from fhir_server.fhirpath.fallback import compile_fallback
from tests.conftest import shared_path
from tests.fhirpath.official_suite import Case, read_cases, read_input, verdict

EXPECTED = Path(__file__).with_name("official_suite_expected_failures.json")


@cache
def _cases() -> list[tuple[Case, dict[str, Any]]]:
    folder = shared_path("fhirpath")
    return [
        (case, read_input(folder / "input-json", case.inputfile))
        for case in read_cases(folder / "tests-fhir-r4.xml")
    ]


def _expected(evaluator: str) -> dict[str, str]:
    listed: dict[str, str] = json.loads(EXPECTED.read_text())[evaluator]
    return listed


def _fallback_failures() -> tuple[int, dict[str, str]]:
    failures = {}
    for case, resource in _cases():

        def run(case: Case = case, resource: dict[str, Any] = resource) -> list[Any]:
            return compile_fallback(case.expression)([resource], resource)

        problem = verdict(case, run)
        if problem is not None:
            failures[case.name] = problem
    return len(_cases()), failures


def _compiled_failures() -> tuple[int, dict[str, str]]:
    failures = {}
    inside = 0
    for case, resource in _cases():
        try:
            compiled = compile_expression(case.expression)
        except Exception:  # outside the subset and beyond fhirpathpy too
            continue
        if not compiled.direct:
            continue
        inside += 1
        problem = verdict(case, lambda c=compiled, r=resource: c.step([r], r))
        if problem is not None:
            failures[case.name] = problem
    return inside, failures


def _judge(evaluator: str, total: int, failures: dict[str, str]) -> None:
    expected = _expected(evaluator)
    print(
        f"\nFHIRPath official suite, {evaluator}: {total - len(failures)} of {total} pass,"
        f" {len(failures)} fail ({len(expected)} listed as known)"
    )
    new = {name: why for name, why in failures.items() if name not in expected}
    fixed = sorted(name for name in expected if name not in failures)
    assert not new, f"new failures: {json.dumps(new, indent=1)}"
    assert not fixed, f"listed failures that pass now (take them off the list): {fixed}"


def test_fhirpathpy_fallback_on_the_official_suite() -> None:
    total, failures = _fallback_failures()
    assert total == 935
    _judge("fhirpathpy", total, failures)


def test_compiled_paths_on_the_official_suite() -> None:
    inside, failures = _compiled_failures()
    assert inside >= 80  # the plain paths of the suite compile
    _judge("compiled", inside, failures)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Patient.name.given", ["Peter", "James", "Jim", "Peter", "James"]),
        ("Patient.name.where(use = 'official').family", ["Chalmers"]),
        ("Patient.telecom.where(system = 'phone').use", ["work", "mobile", "old"]),
    ],
)
def test_compiled_and_fhirpathpy_agree_on_search_shapes(
    expression: str, expected: list[str]
) -> None:
    """The shapes search expressions use give the same items either way."""
    patient = read_input(shared_path("fhirpath") / "input-json", "patient-example.xml")
    compiled = compile_expression(expression)
    assert compiled.direct
    assert compiled(patient) == expected
    assert compile_fallback(expression)([patient], patient) == expected
