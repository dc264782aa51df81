"""Compiled FHIRPath for search expressions: direct walks, and fhirpathpy where they end."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from fhir_server.definitions import Definitions
from fhir_server.fhirpath import compile_expression
from fhir_server.fhirpath.compiled import Step
from fhir_server.fhirpath.fallback import compile_fallback, rewrite

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "meta": {"profile": ["http://example.org/p"], "tag": [{"system": "s", "code": "t"}]},
    "contained": [{"resourceType": "Group", "id": "g1"}],
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "BP"},
    "subject": {"reference": "Patient/p1"},
    "performer": [
        {"reference": "#g1"},
        {"reference": "https://other.example/fhir/Practitioner/x/_history/2"},
        {"type": "Organization", "identifier": {"value": "org-1"}},
        {"reference": "RelatedPerson/rp1"},
    ],
    "effectiveDateTime": "2020-01-01T10:00:00+01:00",
    "valueQuantity": {"value": 120, "unit": "mmHg"},
    "component": [
        {"code": {"text": "a"}, "valueQuantity": {"value": 1.5}},
        {"code": {"text": "b"}, "valueString": "two"},
        {"code": {"text": "c"}, "valueCodeableConcept": {"text": "three"}},
    ],
    "extension": [
        {"url": "http://example.org/ext", "valueString": "ext-value"},
        {"url": "http://example.org/other", "valueBoolean": True},
    ],
}

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Ström", "given": ["Åsa", "Karin"]}, {"given": ["Lisa", None]}],
    "_name": None,
    "telecom": [
        {"system": "phone", "value": "070-123"},
        {"system": "email", "value": "asa@example.se"},
        {"use": "home"},
    ],
    "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "value": "mr-1"},
        {"type": {"coding": [{"code": "SS"}, {"code": "XX"}]}, "value": "ss-1"},
    ],
    "deceasedDateTime": "2021-03-04",
    "link": [{"other": {"reference": "RelatedPerson/r1"}}],
}


def values(expression: str, resource: dict[str, Any], resource_type: str | None = None) -> Any:
    return compile_expression(expression, resource_type)(resource)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Patient.name.family", ["Ström"]),
        ("Patient.name.given", ["Åsa", "Karin", "Lisa"]),  # null in a primitive list skipped
        ("Patient.id", ["p1"]),
        ("Resource.id", ["p1"]),
        ("DomainResource.id", ["p1"]),
        ("Observation.id", []),
        ("Patient.name.family | Patient.name.given", ["Ström", "Åsa", "Karin", "Lisa"]),
        ("Patient.name.given | Patient.name.given", ["Åsa", "Karin", "Lisa"]),  # distinct
        ("Patient.link.other", [{"reference": "RelatedPerson/r1"}]),
        ("Patient.nothing.here", []),
        ("Patient.deceased", ["2021-03-04"]),
        ("(Patient.deceased as dateTime)", ["2021-03-04"]),
        ("Patient.deceased as boolean", []),
        ("Patient.deceased.exists()", [True]),
        ("Patient.multipleBirth.exists()", [False]),
        ("Patient.deceased.exists() and Patient.deceased != false", [True]),
        ("Patient.telecom.where(system='email').value", ["asa@example.se"]),
        ("Patient.telecom.where(system='fax')", []),
        ("Patient.identifier.where(type.coding.code='MR').value", ["mr-1"]),
        # FHIRPath `=` compares whole collections: two codings never equal one string
        ("Patient.identifier.where(type.coding.code='SS').value", []),
        ("Patient.name[1].given", ["Lisa"]),
        # a list equals a string only when it holds that one string (nulls are no items)
        ("Patient.name.where(given='Karin').family", []),
        ("Patient.name.where(given='Lisa').given", ["Lisa"]),
        ("Patient.name.where(family='Ström').given", ["Åsa", "Karin"]),
        ("Patient.name.first().family", ["Ström"]),
        ("Patient.telecom.where(system='phone').exists()", [True]),
    ],
)
def test_patient_paths(expression: str, expected: list[Any]) -> None:
    assert values(expression, PATIENT) == expected
    assert values(expression, PATIENT, "Patient") == expected or "|" in expression


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Observation.value as Quantity", [{"value": 120, "unit": "mmHg"}]),
        ("(Observation.value as Quantity)", [{"value": 120, "unit": "mmHg"}]),
        ("Observation.value.ofType(Quantity)", [{"value": 120, "unit": "mmHg"}]),
        ("Observation.value.as(Quantity).unit", ["mmHg"]),
        ("(Observation.value as Quantity).value", [120]),
        ("Observation.value as string", []),
        ("Observation.value", [{"value": 120, "unit": "mmHg"}]),
        ("Observation.effective", ["2020-01-01T10:00:00+01:00"]),
        ("(Observation.effective as Period)", []),
        ("Observation.component.value", [{"value": 1.5}, "two", {"text": "three"}]),
        ("(Observation.component.value as Quantity)", [{"value": 1.5}]),
        ("(Observation.component.value as CodeableConcept).text", ["three"]),
        ("Observation.component.value.ofType(string)", ["two"]),
        ("Observation.subject.where(resolve() is Patient)", [{"reference": "Patient/p1"}]),
        ("Observation.subject.where(resolve() is Group)", []),
        ("Observation.performer.where(resolve() is Group)", [{"reference": "#g1"}]),
        (
            "Observation.performer.where(resolve() is Practitioner)",
            [{"reference": "https://other.example/fhir/Practitioner/x/_history/2"}],
        ),
        (
            "Observation.performer.where(resolve() is Organization)",
            [{"type": "Organization", "identifier": {"value": "org-1"}}],
        ),
        ("Observation.performer.where(resolve() is Resource).count()", [4]),
        ("Observation.extension('http://example.org/ext').value", ["ext-value"]),
        ("Observation.extension('http://example.org/none')", []),
        ("Observation.where(hasExtension('http://example.org/other')).id", ["o1"]),
        ("Observation.where(hasExtension('http://example.org/none')).id", []),
        ("Observation.meta.profile", ["http://example.org/p"]),
        ("Resource.meta.tag.code", ["t"]),
        ("Observation.code.coding.where(system='http://loinc.org').code", ["8480-6"]),
        (
            "Observation.code | Observation.component.code",
            [
                OBSERVATION["code"],
                {"text": "a"},
                {"text": "b"},
                {"text": "c"},
            ],
        ),
    ],
)
def test_observation_paths(expression: str, expected: list[Any]) -> None:
    assert values(expression, OBSERVATION) == expected


def test_union_operands_of_other_types_are_dropped_for_a_type() -> None:
    expression = "Account.subject | Observation.subject.where(resolve() is Patient) | Basic.x"
    compiled = compile_expression(expression, "Observation")
    assert compiled.direct
    assert compiled(OBSERVATION) == [{"reference": "Patient/p1"}]
    assert compile_expression(expression)(OBSERVATION) == [{"reference": "Patient/p1"}]
    assert compile_expression(expression, "Patient")(OBSERVATION) == []


def test_domain_resource_paths_skip_non_domain_resources() -> None:
    bundle = {"resourceType": "Bundle", "id": "b", "text": {"div": "x"}}
    assert values("DomainResource.text", bundle) == []
    assert values("DomainResource.text", bundle, "Bundle") == []
    assert values("Resource.id", bundle, "Bundle") == ["b"]


def test_resolve_uses_reference_type_when_the_text_names_no_type() -> None:
    resource = {
        "resourceType": "Observation",
        "subject": {"reference": "urn:uuid:0b8a", "type": "Group"},
    }
    assert values("Observation.subject.where(resolve() is Group)", resource) == [
        resource["subject"]
    ]
    assert values("Observation.subject.where(resolve() is Patient)", resource) == []


def test_fallback_handles_the_rest_with_resolve_and_as_rewritten() -> None:
    # select() is outside the compiled subset: fhirpathpy evaluates the operand
    expression = "(Observation.component.value as Quantity).select(value)"
    compiled = compile_expression(expression)
    assert not compiled.direct
    assert [float(v) for v in compiled(OBSERVATION)] == [1.5]
    resolved = compile_expression(
        "Observation.performer.where(resolve() is Group).select(reference)"
    )
    assert not resolved.direct
    assert resolved(OBSERVATION) == ["#g1"]
    # hasExtension() is not in fhirpathpy; the fallback adds it
    with_extension = compile_fallback("Observation.where(hasExtension('http://example.org/other'))")
    assert [r["id"] for r in with_extension([OBSERVATION], OBSERVATION)] == ["o1"]
    # Resource.x matches no resource in fhirpathpy; the fallback starts at the resource
    assert compile_fallback("Resource.id")([OBSERVATION], OBSERVATION) == ["o1"]


def test_fallback_is_per_union_operand() -> None:
    expression = "Observation.status | Observation.code.text.substring(0, 1)"
    compiled = compile_expression(expression)
    assert not compiled.direct
    assert compiled(OBSERVATION) == ["final", "B"]


def test_rewrite_for_fhirpathpy() -> None:
    assert rewrite("(Observation.value as Quantity)") == "Observation.value.ofType(Quantity)"
    assert rewrite("Observation.value as Quantity | Observation.x") == (
        "Observation.value.ofType(Quantity) | Observation.x"
    )
    assert rewrite("Condition.onset.as(Age)") == "Condition.onset.ofType(Age)"
    assert rewrite("Resource.meta.tag | DomainResource.text") == "meta.tag | text"


def test_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    odd: list[Any] = [
        {"resourceType": "Patient", "name": "not a list of HumanName"},
        {"resourceType": "Patient", "name": [1, None, [], "x", {"given": {"a": 1}}]},
        {"resourceType": "Patient", "telecom": [{"system": ["phone", "sms"]}]},
        {"resourceType": "Patient", "deceasedBoolean": [True, False]},
        {},
    ]
    expressions = [
        "Patient.name.given",
        "Patient.telecom.where(system='phone')",
        "Patient.deceased.exists() and Patient.deceased != false",
        "Patient.name.where(resolve() is Patient)",
        "Patient.name.given.substring(0, 1)",  # fhirpathpy
        "Patient.name.given.toInteger() + 'x'",  # fails in fhirpathpy on every resource
        "this is not FHIRPath (",
    ]
    with caplog.at_level(logging.DEBUG, logger="fhir_server.fhirpath"):
        for expression in expressions:
            compiled = compile_expression(expression)
            for resource in odd:
                assert isinstance(compiled(resource), list)
    assert values("this is not FHIRPath (", PATIENT) == []


def test_a_failing_expression_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    # 'is' needs one item: a Patient with two links fails, and gives []
    compiled = compile_expression("Patient.link.other.resolve() is Patient")
    resource = {
        "resourceType": "Patient",
        "link": [{"other": {"reference": "Patient/a"}}, {"other": {"reference": "Patient/b"}}],
    }
    with caplog.at_level(logging.DEBUG, logger="fhir_server.fhirpath"):
        assert compiled(resource) == []
        assert compiled(resource) == []
    failures = [r for r in caplog.records if "failed on" in r.getMessage()]
    assert len(failures) == 1


def test_core_expressions_compile_to_direct_walks(r4_definitions: Definitions) -> None:
    """DESIGN.md: 95 % of the R4 search expressions run without fhirpathpy."""
    pairs = [
        (resource_type, sp["expression"])
        for resource_type in sorted(r4_definitions.resource_types)
        for sp in r4_definitions.search_params_for(resource_type).values()
        if sp.get("expression")
    ]
    direct = [compile_expression(e, t).direct for t, e in pairs]
    assert len(pairs) > 2500
    assert sum(direct) / len(direct) >= 0.95


def _plain(value: Any) -> Any:
    """fhirpathpy gives decimals as Decimal; compare them as floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return float(value)
    return value


def _first_example_of_each_type(examples: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for name in sorted(examples):
        resource = examples[name]
        chosen.setdefault(resource["resourceType"], resource)
    for name in (
        "Patient-example",
        "Observation-example",
        "Observation-blood-pressure",
        "Patient-glossy",
    ):
        chosen[name] = examples[name]
    return list(chosen.values())


def test_compiled_equals_fhirpathpy_on_official_examples(
    r4_definitions: Definitions, r4_examples: dict[str, dict[str, Any]]
) -> None:
    """Every search expression of each example's type gives what fhirpathpy gives."""
    compared = 0
    cache: dict[str, tuple[Callable[[dict[str, Any]], list[Any]], Step]] = {}
    for resource in _first_example_of_each_type(r4_examples):
        resource_type = resource["resourceType"]
        if resource_type not in r4_definitions.resource_types:
            continue
        for code, sp in r4_definitions.search_params_for(resource_type).items():
            expression = sp.get("expression")
            if not expression:
                continue
            if expression not in cache:
                cache[expression] = (compile_expression(expression), compile_fallback(expression))
            compiled, reference = cache[expression]
            expected = _plain(reference([resource], resource))
            assert _plain(compiled(resource)) == expected, (resource_type, code, expression)
            if expected:
                compared += 1
    assert compared > 1000


def test_known_example_values(r4_examples: dict[str, dict[str, Any]]) -> None:
    patient = r4_examples["Patient-example"]
    assert values("Patient.name.family", patient, "Patient") == ["Chalmers", "Windsor"]
    assert values("Patient.birthDate", patient, "Patient") == ["1974-12-25"]
    assert values("Patient.identifier.value", patient, "Patient") == ["12345"]
    observation = r4_examples["Observation-example"]
    assert values("(Observation.value as Quantity).code", observation) == ["[lb_av]"]
    assert values("Observation.subject.where(resolve() is Patient)", observation) == [
        {"reference": "Patient/example"}
    ]
