"""Search criteria parsed into plans, and the errors for what cannot be searched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pytest

from fhir_server.definitions import Definitions
from fhir_server.outcome import FhirError
from fhir_server.search.criteria import parse_criteria
from fhir_server.search.plan import (
    CompositeClause,
    DateClause,
    DateRange,
    FullTextClause,
    IdClause,
    LastUpdatedClause,
    MissingClause,
    NumberClause,
    NumberRange,
    Plan,
    QuantityClause,
    QuantityMatch,
    ReferenceClause,
    ReferenceMatch,
    StringClause,
    StringMatch,
    TokenClause,
    TokenMatch,
    UriClause,
    UriMatch,
)


class Parse(Protocol):
    def __call__(
        self, resource_type: str, *criteria: tuple[str, str], base_url: str | None = None
    ) -> Plan: ...


@pytest.fixture(scope="module")
def parse(r4_definitions: Definitions) -> Parse:
    def parse(resource_type: str, *criteria: tuple[str, str], base_url: str | None = None) -> Plan:
        return parse_criteria(r4_definitions, resource_type, criteria, base_url=base_url)

    return parse


def failure(parse: Parse, resource_type: str, criteria: Sequence[tuple[str, str]]) -> FhirError:
    with pytest.raises(FhirError) as raised:
        parse(resource_type, *criteria)
    assert raised.value.status == 400
    return raised.value


def test_repeated_parameters_are_and_commas_are_or(parse: Parse) -> None:
    plan = parse("Patient", ("given", "Åsa,Eva"), ("given", "Karin"))
    assert plan == Plan(
        "Patient",
        (
            StringClause("given", (StringMatch("starts", "asa"), StringMatch("starts", "eva"))),
            StringClause("given", (StringMatch("starts", "karin"),)),
        ),
    )


def test_escaped_commas_and_bars(parse: Parse) -> None:
    plan = parse("Patient", ("family", r"Svensson\,Berg"), ("identifier", r"urn:x\|y|a\,b"))
    assert plan.clauses == (
        StringClause("family", (StringMatch("starts", "svensson,berg"),)),
        TokenClause("identifier", (TokenMatch(system="urn:x|y", code="a,b"),)),
    )


def test_string_modifiers(parse: Parse) -> None:
    plan = parse(
        "Patient", ("name:exact", "Åsa"), ("name:contains", "STRÖ"), ("name:missing", "true")
    )
    assert plan.clauses == (
        StringClause("name", (StringMatch("exact", "Åsa"),)),
        StringClause("name", (StringMatch("contains", "stro"),)),
        MissingClause("name", "string", True),
    )


def test_tokens(parse: Parse) -> None:
    plan = parse(
        "Patient",
        ("identifier", "http://electronichealth.se/identifier/personnummer|191212121212"),
        ("gender", "female,other"),
        ("identifier", "|local-1"),
        ("identifier", "http://example.se/ids|"),
        ("gender:not", "male"),
        ("language:text", "Svenska"),
        ("active", "true"),
    )
    assert plan.clauses == (
        TokenClause(
            "identifier",
            (TokenMatch("http://electronichealth.se/identifier/personnummer", "191212121212"),),
        ),
        TokenClause("gender", (TokenMatch(code="female"), TokenMatch(code="other"))),
        TokenClause("identifier", (TokenMatch(code="local-1", no_system=True),)),
        TokenClause("identifier", (TokenMatch(system="http://example.se/ids"),)),
        TokenClause("gender", (TokenMatch(code="male"),), negate=True),
        TokenClause("language", (TokenMatch(text="svenska"),)),
        TokenClause("active", (TokenMatch(code="true"),)),
    )


def test_id_and_last_updated(parse: Parse) -> None:
    plan = parse("Patient", ("_id", "a,b"), ("_id:not", "c"), ("_lastUpdated", "ge2026-11-24"))
    assert plan.clauses == (
        IdClause(("a", "b")),
        IdClause(("c",), negate=True),
        LastUpdatedClause(
            (DateRange("ge", "2026-11-24T00:00:00.000000Z", "2026-11-24T23:59:59.999999Z"),)
        ),
    )


def test_dates_with_prefixes(parse: Parse) -> None:
    plan = parse("Patient", ("birthdate", "1974"), ("birthdate", "lt1975-01,sa1973-12-31T23:00Z"))
    assert plan.clauses == (
        DateClause(
            "birthdate",
            (DateRange("eq", "1974-01-01T00:00:00.000000Z", "1974-12-31T23:59:59.999999Z"),),
        ),
        DateClause(
            "birthdate",
            (
                DateRange("lt", "1975-01-01T00:00:00.000000Z", "1975-01-31T23:59:59.999999Z"),
                DateRange("sa", "1973-12-31T23:00:00.000000Z", "1973-12-31T23:00:59.999999Z"),
            ),
        ),
    )


def test_references(parse: Parse) -> None:
    plan = parse(
        "Observation",
        ("subject", "Patient/p1"),
        ("subject:Group", "g1"),
        ("patient", "p2"),
        ("specimen", "s1"),
        ("subject", "https://fhir.example.se/r4/Patient/p3"),
        ("subject", "https://elsewhere.example/Patient/p4"),
        ("performer", "Practitioner/x/_history/2"),
        ("subject:missing", "false"),
        base_url="https://fhir.example.se/r4",
    )
    assert plan.clauses == (
        ReferenceClause("subject", (ReferenceMatch("Patient", "p1"),)),
        ReferenceClause("subject", (ReferenceMatch("Group", "g1"),)),
        ReferenceClause("patient", (ReferenceMatch(None, "p2"),)),  # Patient or Group
        ReferenceClause("specimen", (ReferenceMatch("Specimen", "s1"),)),  # its only target
        ReferenceClause("subject", (ReferenceMatch("Patient", "p3"),)),
        ReferenceClause(
            "subject",
            (ReferenceMatch(url="https://elsewhere.example/Patient/p4", any_version=True),),
        ),
        ReferenceClause("performer", (ReferenceMatch("Practitioner", "x"),)),
        MissingClause("subject", "reference", False),
    )
    canonical = parse("PlanDefinition", ("depends-on", "http://example.se/Library/l1|1.0"))
    assert canonical.clauses == (
        ReferenceClause("depends-on", (ReferenceMatch(url="http://example.se/Library/l1|1.0"),)),
    )


def test_uris_numbers_quantities(parse: Parse) -> None:
    assert parse("ValueSet", ("url", "http://x/ValueSet/1")).clauses == (
        UriClause("url", (UriMatch("exact", "http://x/ValueSet/1"),)),
    )
    assert parse("ValueSet", ("url:below", "http://x/")).clauses == (
        UriClause("url", (UriMatch("below", "http://x/"),)),
    )
    assert parse("RiskAssessment", ("probability", "gt0.8,0.25")).clauses == (
        NumberClause(
            "probability",
            (NumberRange("gt", 0.8, 0.75, 0.85), NumberRange("eq", 0.25, 0.245, 0.255)),
        ),
    )
    assert parse(
        "Observation", ("value-quantity", "le5.4|http://unitsofmeasure.org|mg")
    ).clauses == (
        QuantityClause(
            "value-quantity",
            (QuantityMatch(NumberRange("le", 5.4, 5.35, 5.45), "http://unitsofmeasure.org", "mg"),),
        ),
    )
    assert parse("Observation", ("value-quantity", "100||mg")).clauses == (
        QuantityClause(
            "value-quantity", (QuantityMatch(NumberRange("eq", 100, 99.5, 100.5), None, "mg"),)
        ),
    )
    ap = parse("RiskAssessment", ("probability", "ap100")).clauses[0]
    assert isinstance(ap, NumberClause) and (ap.ranges[0].low, ap.ranges[0].high) == (90.0, 110.0)


def test_format_and_pretty_are_ignored(parse: Parse) -> None:
    assert parse("Patient", ("_format", "json"), ("_pretty", "true")).clauses == ()


@pytest.mark.parametrize(
    ("resource_type", "criteria", "says"),
    [
        ("Patient", [("nosuch", "x")], "Unknown search parameter 'nosuch'"),
        ("NoSuchType", [("name", "x")], "Unknown resource type"),
        ("Patient", [("name:nosuch", "x")], "Modifier ':nosuch'"),
        ("Patient", [("name:text", "x")], "Modifier ':text'"),
        ("Patient", [("gender:in", "http://x")], "needs the server's terminology"),
        ("Patient", [("gender:below", "http://x|y")], "is not known here"),
        ("Patient", [("identifier:of-type", "x|y")], "type-system|type-code|value"),
        ("Patient", [("identifier", "a|b|c")], "not a token"),
        ("Patient", [("identifier", "|")], "empty"),
        ("Patient", [("name", "")], "has no value"),
        ("Patient", [("name", "a,,b")], "empty value"),
        ("Patient", [("birthdate", "1974-13")], "not a date"),
        ("Patient", [("birthdate", "xx1974")], "not a date"),
        ("Patient", [("birthdate:exact", "1974")], "Modifier ':exact'"),
        ("Patient", [("_lastUpdated", "yesterday")], "not a date"),
        ("Patient", [("name:missing", "maybe")], "true or false"),
        ("Patient", [("_id", "a/b")], "not a resource id"),
        ("Patient", [("_id:missing", "true")], "Modifier ':missing'"),
        ("Patient", [("general-practitioner", "Nonsense/1")], "not a reference"),
        ("Patient", [("general-practitioner", "not an id!")], "not a resource id"),
        ("Patient", [("general-practitioner:Device", "1")], "cannot refer to a Device"),
        ("Patient", [("general-practitioner:identifier", "a|b|c")], "not a token"),
        ("Patient", [("general-practitioner:above", "x")], "not supported yet"),
        (
            "Patient",
            [("general-practitioner:Organization", "Practitioner/1")],
            "does not refer to a resource of type Organization",
        ),
        ("RiskAssessment", [("probability", "high")], "not a number"),
        ("Observation", [("value-quantity", "5|mg")], "not a quantity"),
        ("Observation", [("value-quantity", "x|s|c")], "not a number"),
        ("Observation", [("code-value-quantity", "a")], "takes 2 components"),
        ("Observation", [("code-value-quantity", "a$5$6")], "takes 2 components"),
        ("Observation", [("code-value-quantity", "a$")], "empty component"),
        ("Observation", [("code-value-quantity", "a$x")], "not a number"),
        ("Observation", [("code-value-quantity:not", "a$5")], "Modifier ':not'"),
        ("Location", [("near", "1|2|3|km")], "special"),
        ("Patient", [("_count", "10")], "controls how results are returned"),
        ("Patient", [("_sort", "name")], "controls how results are returned"),
        ("Patient", [("_include", "Patient:organization")], "controls how results"),
        ("Patient", [("_summary", "true")], "controls how results"),
        ("Patient", [("_elements", "id")], "controls how results"),
        ("Patient", [("_total", "none")], "controls how results"),
        ("Patient", [("_revinclude", "x")], "controls how results"),
        ("Patient", [("_contained", "true")], "controls how results"),
        ("Patient", [("_containedType", "x")], "controls how results"),
        ("Patient", [("_has:Observation:code:status", "1")], "no reference parameter 'code'"),
        ("Patient", [("_has:Observation:subject", "1")], "_has:Type:reference:criterion"),
        ("Patient", [("gender.name", "x")], "not a reference parameter"),
        ("Patient", [("general-practitioner.nosuch", "x")], "has a search parameter 'nosuch'"),
        ("Patient", [("general-practitioner:Practitioner.name:nosuch", "x")], "Modifier ':nosuch'"),
        ("Patient", [("_has:Observation:subject:date", "x")], "not a date"),
        ("Patient", [("_text", "...")], "without words"),
        ("Patient", [("_content:exact", "x")], "Modifier ':exact'"),
    ],
)
def test_errors_name_the_parameter(
    parse: Parse, resource_type: str, criteria: list[tuple[str, str]], says: str
) -> None:
    error = failure(parse, resource_type, criteria)
    assert says in str(error)
    if resource_type != "NoSuchType":
        assert error.issues[0].expression == (criteria[0][0],)


def test_composite_values_split_at_dollar_then_parse_per_component(parse: Parse) -> None:
    plan = parse(
        "Observation",
        ("component-code-value-quantity", "http://loinc.org|8480-6$gt100,8462-4$lt5"),
    )
    assert plan.clauses == (
        CompositeClause(
            "component-code-value-quantity",
            (
                (
                    TokenClause(
                        "component-code-value-quantity",
                        (TokenMatch(system="http://loinc.org", code="8480-6"),),
                    ),
                    QuantityClause(
                        "component-code-value-quantity",
                        (QuantityMatch(NumberRange("gt", 100.0, 99.5, 100.5), None, None),),
                    ),
                ),
                (
                    TokenClause("component-code-value-quantity", (TokenMatch(code="8462-4"),)),
                    QuantityClause(
                        "component-code-value-quantity",
                        (QuantityMatch(NumberRange("lt", 5.0, 4.5, 5.5), None, None),),
                    ),
                ),
            ),
        ),
    )


def test_full_text_words_are_and_alternatives_or(parse: Parse) -> None:
    assert parse("Patient", ("_content", "Åsa Öberg, Eva")).clauses == (
        FullTextClause("_content", (("asa", "oberg"), ("eva",))),
    )
    assert parse("Patient", ("_text", "åsa-öberg")).clauses == (
        FullTextClause("_text", (("asa", "oberg"),)),
    )
