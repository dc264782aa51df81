"""Index extraction: the rows each parameter type gets from a resource."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fhir_server import fhirjson
from fhir_server.definitions import Definitions
from fhir_server.search.dates import EARLIEST, LATEST, date_range
from fhir_server.search.fulltext import NARRATIVE
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.search.text import normalise


@pytest.fixture(scope="module")
def indexer(r4_definitions: Definitions) -> Indexer:
    return Indexer(r4_definitions, base_url="https://fhir.example.se/r4")


def rows(entries: IndexEntries, kind: str, param: str) -> list[tuple[Any, ...]]:
    return [row[1:] for row in getattr(entries, kind) if row[0] == param]


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {
        "lastUpdated": "2026-11-24T04:50:00.123456Z",
        "profile": ["http://example.se/StructureDefinition/SEPatient"],
        "tag": [{"system": "http://example.se/tags", "code": "lus"}],
        "security": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
        ],
        "source": "http://sjukhus.example.se/adt",
    },
    "identifier": [
        {
            "system": "http://electronichealth.se/identifier/personnummer",
            "value": "191212121212",
            "type": {"text": "Personnummer"},
        }
    ],
    "active": True,
    "name": [
        {"use": "official", "family": "Ström", "given": ["Åsa", "Karin"], "prefix": ["Dr"]},
        {"text": "Åsa Ström", "period": {"start": "2000"}},
    ],
    "telecom": [{"system": "phone", "value": "070-1234567", "use": "mobile"}, {"use": "home"}],
    "gender": "female",
    "birthDate": "1912-12-12",
    "address": [
        {
            "use": "home",
            "line": ["Storgatan 1"],
            "city": "Malmö",
            "postalCode": "211 22",
            "country": "SE",
        }
    ],
    "generalPractitioner": [
        {"reference": "Organization/vc-1"},
        {"reference": "https://fhir.example.se/r4/Practitioner/pr-1/_history/3"},
        {"reference": "https://elsewhere.example/fhir/Practitioner/pr-1"},
        {"display": "only a name"},
    ],
    "managingOrganization": {"reference": "#org"},
    "contained": [{"resourceType": "Organization", "id": "org"}],
}


def test_strings_are_normalised_and_kept_as_written(indexer: Indexer) -> None:
    entries = indexer.extract(PATIENT)
    assert ("strom", "Ström") in rows(entries, "strings", "family")
    assert ("asa", "Åsa") in rows(entries, "strings", "given")
    name = rows(entries, "strings", "name")
    for part in [("strom", "Ström"), ("asa", "Åsa"), ("karin", "Karin"), ("dr", "Dr")]:
        assert part in name
    assert ("asa strom", "Åsa Ström") in name  # HumanName.text
    assert ("official",) not in [r[1:] for r in name]  # use is not text
    assert ("malmo", "Malmö") in rows(entries, "strings", "address-city")
    assert ("storgatan 1", "Storgatan 1") in rows(entries, "strings", "address")
    assert ("211 22", "211 22") in rows(entries, "strings", "address-postalcode")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Åsa", "asa"),
        ("ÖSTERGÅRD", "ostergard"),
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Chalmers", "chalmers"),
        ("ﬁnn", "finn"),
    ],
)
def test_normalise(text: str, folded: str) -> None:
    assert normalise(text) == folded


def test_tokens(indexer: Indexer) -> None:
    entries = indexer.extract(PATIENT)
    assert rows(entries, "tokens", "identifier") == [
        ("http://electronichealth.se/identifier/personnummer", "191212121212", "personnummer")
    ]
    assert rows(entries, "tokens", "gender") == [(None, "female", None)]
    assert rows(entries, "tokens", "active") == [(None, "true", None)]
    # a ContactPoint's system (phone, email) is no token system (search.html#token)
    assert rows(entries, "tokens", "phone") == [(None, "070-1234567", None)]
    assert rows(entries, "tokens", "telecom") == [(None, "070-1234567", None)]
    assert rows(entries, "tokens", "_id") == [(None, "p1", None)]
    assert rows(entries, "tokens", "_tag") == [("http://example.se/tags", "lus", None)]
    assert rows(entries, "tokens", "_security") == [
        ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", None)
    ]
    assert rows(entries, "tokens", "deceased") == [(None, "false", None)]


def test_codeable_concepts(indexer: Indexer) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"},
                {"system": "http://snomed.info/sct", "code": "386725007"},
            ],
            "text": "Kroppstemperatur",
        },
        "category": [{"text": "Vitalparametrar"}],
        "valueQuantity": {
            "value": fhirjson.Decimal("37.50"),
            "unit": "C",
            "system": "http://unitsofmeasure.org",
            "code": "Cel",
        },
        "effectiveDateTime": "2026-11-24T10:15:00+01:00",
        "subject": {"reference": "Patient/p1"},
    }
    entries = indexer.extract(observation)
    assert rows(entries, "tokens", "code") == [
        ("http://loinc.org", "8310-5", "body temperature"),
        # the concept's text is the coding's text too, for :text
        ("http://loinc.org", "8310-5", "kroppstemperatur"),
        ("http://snomed.info/sct", "386725007", "kroppstemperatur"),
    ]
    assert rows(entries, "tokens", "category") == [(None, None, "vitalparametrar")]
    assert rows(entries, "tokens", "status") == [(None, "final", None)]
    assert rows(entries, "quantities", "value-quantity") == [
        (37.495, 37.505, "http://unitsofmeasure.org", "Cel"),
        (37.495, 37.505, None, "C"),  # the unit as written, for `37.5||C`
    ]
    assert rows(entries, "dates", "date") == [
        ("2026-11-24T09:15:00.000000Z", "2026-11-24T09:15:00.999999Z")
    ]
    assert rows(entries, "references", "subject") == [("Patient", "p1", "Patient/p1")]
    assert rows(entries, "references", "patient") == [("Patient", "p1", "Patient/p1")]


def test_references(indexer: Indexer) -> None:
    entries = indexer.extract(PATIENT)
    assert rows(entries, "references", "general-practitioner") == [
        ("Organization", "vc-1", "Organization/vc-1"),
        # an absolute URL under the server's base is local
        ("Practitioner", "pr-1", "https://fhir.example.se/r4/Practitioner/pr-1/_history/3"),
        # elsewhere: the type is known, the id is not one of ours
        ("Practitioner", None, "https://elsewhere.example/fhir/Practitioner/pr-1"),
    ]
    assert rows(entries, "references", "organization") == [(None, None, "#org")]


def test_canonical_references_and_uris(indexer: Indexer) -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "url": "http://example.se/Questionnaire/q1",
        "derivedFrom": ["http://example.se/Questionnaire/base|2.0"],
        "subjectType": ["Patient"],
        "date": "2026-11",
    }
    entries = indexer.extract(questionnaire)
    assert rows(entries, "uris", "url") == [("http://example.se/Questionnaire/q1",)]
    assert rows(entries, "dates", "date") == [
        ("2026-11-01T00:00:00.000000Z", "2026-11-30T23:59:59.999999Z")
    ]
    entries = indexer.extract(PATIENT)
    assert rows(entries, "uris", "_profile") == [
        ("http://example.se/StructureDefinition/SEPatient",)
    ]
    assert rows(entries, "uris", "_source") == [("http://sjukhus.example.se/adt",)]
    plan = {
        "resourceType": "PlanDefinition",
        "relatedArtifact": [
            {"type": "depends-on", "resource": "http://example.se/Library/l1|1.0"},
            {"type": "successor", "resource": "PlanDefinition/next"},
        ],
    }
    entries = indexer.extract(plan)
    assert rows(entries, "references", "depends-on") == [
        (None, None, "http://example.se/Library/l1|1.0")
    ]
    assert rows(entries, "references", "successor") == [
        ("PlanDefinition", "next", "PlanDefinition/next")
    ]


def test_dates(indexer: Indexer) -> None:
    entries = indexer.extract(PATIENT)
    assert rows(entries, "dates", "birthdate") == [
        ("1912-12-12T00:00:00.000000Z", "1912-12-12T23:59:59.999999Z")
    ]
    encounter = {
        "resourceType": "Encounter",
        "period": {"start": "2026-11-20T08:00:00+01:00"},
    }
    assert rows(indexer.extract(encounter), "dates", "date") == [
        ("2026-11-20T07:00:00.000000Z", LATEST)
    ]
    care_plan = {
        "resourceType": "CarePlan",
        "period": {"end": "2026"},
        "activity": [
            {
                "detail": {
                    "scheduledTiming": {
                        "event": ["2026-12-01", "2026-12-08"],
                        "repeat": {"boundsPeriod": {"start": "2026-12", "end": "2027-01"}},
                    }
                }
            }
        ],
    }
    entries = indexer.extract(care_plan)
    assert rows(entries, "dates", "date") == [(EARLIEST, "2026-12-31T23:59:59.999999Z")]
    assert rows(entries, "dates", "activity-date") == [
        ("2026-12-01T00:00:00.000000Z", "2026-12-01T23:59:59.999999Z"),
        ("2026-12-08T00:00:00.000000Z", "2026-12-08T23:59:59.999999Z"),
        ("2026-12-01T00:00:00.000000Z", "2027-01-31T23:59:59.999999Z"),
    ]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2020", "2020-01-01T00:00:00.000000Z", "2020-12-31T23:59:59.999999Z"),
        ("2024-02", "2024-02-01T00:00:00.000000Z", "2024-02-29T23:59:59.999999Z"),
        ("2020-01-01T00:30:00+01:00", "2019-12-31T23:30:00.000000Z", "2019-12-31T23:30:00.999999Z"),
        ("2020-01-01T10:00:00", "2020-01-01T10:00:00.000000Z", "2020-01-01T10:00:00.999999Z"),
        ("2020-01-01T10:00:00.5Z", "2020-01-01T10:00:00.500000Z", "2020-01-01T10:00:00.599999Z"),
        (
            "2020-01-01T10:00:00.1234567Z",
            "2020-01-01T10:00:00.123456Z",
            "2020-01-01T10:00:00.123456Z",
        ),
        ("0001-01-01T00:00:00+01:00", EARLIEST, EARLIEST),
    ],
)
def test_date_ranges(text: str, low: str, high: str) -> None:
    assert date_range(text) == (low, high)


@pytest.mark.parametrize("text", ["2020-13", "2021-02-29", "20201", "2020-01-01T25:00:00Z", "x"])
def test_not_dates(text: str) -> None:
    assert date_range(text) is None


def test_numbers_and_quantities(indexer: Indexer) -> None:
    risk = {
        "resourceType": "RiskAssessment",
        "prediction": [{"probabilityDecimal": 0.25}, {"probabilityDecimal": 3}],
    }
    assert rows(indexer.extract(risk), "numbers", "probability") == [(0.245, 0.255), (3.0, 3.0)]
    charge = {
        "resourceType": "ChargeItem",
        "priceOverride": {"value": 100.5, "currency": "SEK"},
        "quantity": {"value": 2, "comparator": "<"},
    }
    entries = indexer.extract(charge)
    assert rows(entries, "quantities", "price-override") == [
        (100.45, 100.55, "urn:iso:std:iso:4217", "SEK")
    ]
    assert rows(entries, "quantities", "quantity") == [(float("-inf"), 2.0, None, None)]
    observation = {
        "resourceType": "Observation",
        "valueQuantity": {"value": 7, "unit": "mg"},
        "component": [{"valueRange": {"low": {"value": 1, "unit": "mg"}}}],
    }
    entries = indexer.extract(observation)
    assert rows(entries, "quantities", "value-quantity") == [(7.0, 7.0, None, "mg")]
    assert rows(entries, "quantities", "component-value-quantity") == []


def test_special_is_not_indexed_and_composites_apart(indexer: Indexer) -> None:
    codes = {param.code for param in indexer.params("Observation")}
    assert "code-value-quantity" not in codes  # composite: rows of their own
    assert "code-value-quantity" in indexer.composites("Observation")
    assert "value-quantity" in codes
    assert "near" not in {param.code for param in indexer.params("Location")}  # special
    assert {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} <= {
        param.code for param in indexer.params("Patient")
    }
    assert "_text" not in {param.code for param in indexer.params("Patient")}  # words


def test_composite_rows_are_numbered_by_item(indexer: Indexer) -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "unit": "mmHg"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": 80, "code": "mm[Hg]", "unit": "mmHg"},
            },
            {"code": {"text": "no value"}},
        ],
    }
    found = [
        row[1:]
        for row in indexer.extract(observation).composites
        if row[0] == "component-code-value-quantity"
    ]
    assert found == [
        (0, 0, "token", ("http://loinc.org", "8480-6", None)),
        (0, 1, "quantity", (120.0, 120.0, None, "mmHg")),
        (1, 0, "token", ("http://loinc.org", "8462-4", None)),
        (1, 1, "quantity", (80.0, 80.0, None, "mm[Hg]")),
        (1, 1, "quantity", (80.0, 80.0, None, "mmHg")),
    ]  # the third component has no value: it cannot match a code$value search
    # the Observation's own code has no value of its own
    combo = [
        row[1:3]
        for row in indexer.extract(observation).composites
        if row[0] == "combo-code-value-quantity"
    ]
    assert {(g, n) for g, n in combo} == {(1, 0), (1, 1), (2, 0), (2, 1)}


def test_full_text_words(indexer: Indexer) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "text": {"status": "generated", "div": "<div><p>Diabetes &amp; <b>Åsa</b></p></div>"},
        "note": [{"text": "Hemtjänst, två gånger"}],
        "subject": {"reference": "Patient/p1"},
        "recordedDate": "2024-03-01",
    }
    found = indexer.extract(condition).words
    # each distinct word once, folded; the narrative's also marked as such (_text)
    assert found[:2] == ["diabetes", "asa"]
    assert {"hemtjanst", "tva", "ganger", "§diabetes", "§asa"} <= set(found)
    assert not set(found) & {"patient", "p1", "2024", "c1", "generated", "§hemtjanst"}


def test_rows_are_distinct(indexer: Indexer) -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["Eva"]}, {"given": ["Eva"]}]}
    assert rows(indexer.extract(patient), "strings", "given") == [("eva", "Eva")]


def test_unknown_and_broken_resources_give_no_rows(indexer: Indexer) -> None:
    assert indexer.extract({"resourceType": "NoSuchType", "id": "x"}) == IndexEntries()
    assert indexer.extract({"id": "x"}) == IndexEntries()
    assert indexer.extract({"resourceType": 7}) == IndexEntries()


def _mangled(value: Any, rng: random.Random) -> Any:
    """The same JSON with values swapped for values of other shapes here and there."""
    shapes: list[Any] = [None, 1, 2.5, True, "x", "", [], {}, [None], {"value": "x"}, ["a", 1]]
    if rng.random() < 0.15:
        return rng.choice(shapes)
    if isinstance(value, dict):
        return {k: _mangled(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_mangled(v, rng) for v in value]
    return value


def test_never_raises_on_odd_shapes(
    indexer: Indexer, r4_examples: dict[str, dict[str, Any]]
) -> None:
    rng = random.Random(4711)
    names = sorted(r4_examples)
    for name in rng.sample(names, 300):
        resource = _mangled(r4_examples[name], rng)
        if isinstance(resource, dict):
            resource["resourceType"] = r4_examples[name]["resourceType"]
            assert isinstance(indexer.extract(resource), IndexEntries)


def test_every_official_example(indexer: Indexer, r4_examples: dict[str, dict[str, Any]]) -> None:
    """All 5 000+ examples index without an error, with the rows they should have."""
    counts = 0
    for resource in r4_examples.values():
        entries = indexer.extract(resource)
        counts += sum(len(getattr(entries, kind)) for kind in IndexEntries.__slots__)
    assert len(r4_examples) > 5000
    assert counts > 100_000

    patient = indexer.extract(r4_examples["Patient-example"])
    assert ("urn:oid:1.2.36.146.595.217.0.1", "12345", None) in rows(
        patient, "tokens", "identifier"
    )
    assert ("chalmers", "Chalmers") in rows(patient, "strings", "family")
    assert ("peter", "Peter") in rows(patient, "strings", "given")
    assert rows(patient, "dates", "birthdate") == [
        ("1974-12-25T00:00:00.000000Z", "1974-12-25T23:59:59.999999Z")
    ]
    assert rows(patient, "tokens", "gender") == [(None, "male", None)]
    assert rows(patient, "references", "organization") == [("Organization", "1", "Organization/1")]
    assert rows(patient, "tokens", "_id") == [(None, "example", None)]

    observation = indexer.extract(r4_examples["Observation-example"])
    assert ("http://loinc.org", "29463-7", "body weight") in rows(observation, "tokens", "code")
    assert rows(observation, "references", "subject") == [("Patient", "example", "Patient/example")]
    assert rows(observation, "quantities", "value-quantity") == [
        (185.0, 185.0, "http://unitsofmeasure.org", "[lb_av]"),
        (185.0, 185.0, None, "lbs"),
    ]
    assert rows(observation, "dates", "date") == [
        ("2016-03-28T00:00:00.000000Z", "2016-03-28T23:59:59.999999Z")
    ]

    blood_pressure = indexer.extract(r4_examples["Observation-blood-pressure"])
    assert ("http://loinc.org", "8480-6", "systolic blood pressure") in rows(
        blood_pressure, "tokens", "component-code"
    )
    assert (107.0, 107.0, "http://unitsofmeasure.org", "mm[Hg]") in rows(
        blood_pressure, "quantities", "component-value-quantity"
    )

    value_set = indexer.extract(r4_examples["ValueSet-example-expansion"])
    assert rows(value_set, "uris", "url") == [("http://hl7.org/fhir/ValueSet/example-expansion",)]


def test_contained_resources_are_indexed_as_their_own_type(indexer: Indexer) -> None:
    """Each contained resource gets the rows of a resource of its type, apart from its
    container's (search.html#contained); what is no resource is left out."""
    entries = indexer.extract(
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "med",
                    "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}]},
                    # a contained resource contains nothing (dom-2): not indexed
                    "contained": [{"resourceType": "Substance", "id": "s"}],
                },
                {"id": "no-type"},
                {"resourceType": "NoSuchType", "id": "x"},
                "text",
                {"resourceType": "Practitioner", "name": [{"family": "Berg"}]},
            ],
            "medicationReference": {"reference": "#med"},
        }
    )
    assert [(u.position, u.resource_type, u.id) for u in entries.contained] == [
        (0, "Medication", "med"),
        (4, "Practitioner", ""),
    ]
    medication, practitioner = (u.entries for u in entries.contained)
    assert ("code", "http://www.whocc.no/atc", "N02BE01", None) in medication.tokens
    assert medication.contained == []
    assert rows(practitioner, "strings", "family") == [("berg", "Berg")]
    # the container's own rows hold none of theirs
    assert not [row for row in entries.tokens if row[2] == "N02BE01"]
    assert not rows(entries, "strings", "family")
    assert rows(entries, "tokens", "status") == [(None, "active", None)]
    assert indexer.extract({"resourceType": "Patient", "id": "p"}).contained == []


_TABLES = ("strings", "tokens", "references", "dates", "numbers", "quantities", "uris")


def _rows_of(entries: IndexEntries, codes: set[str]) -> dict[str, list[Any]]:
    """Each table's rows of these parameters (and their `P:identifier`/`P:of-type`)."""

    def wanted(param: str) -> bool:
        return param in codes or param.split(":", 1)[0] in codes

    found = {t: sorted((r for r in getattr(entries, t) if wanted(r[0])), key=repr) for t in _TABLES}
    found["composites"] = sorted((r for r in entries.composites if wanted(r[0])), key=repr)
    return found


def test_extract_only_gives_the_rows_of_those_parameters(r4_definitions: Definitions) -> None:
    """What a subscription extracts (`only`) is, parameter by parameter, what is stored:
    over every resource of the official examples, random subsets of its type's parameters
    (with derived and full-text codes)."""
    from tests.conftest import read_tgz_json, shared_path

    indexer = Indexer(r4_definitions)
    pick = random.Random(20261205)
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    checked = 0
    for _, resource in read_tgz_json(archive):
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if rtype not in r4_definitions.resource_types:
            continue
        codes = [code for code, _, _ in indexer.indexed(rtype)]
        codes += [code for code, _, _ in indexer.derived(rtype)]
        codes += ["_text", "_content"]
        only = frozenset(pick.sample(codes, k=pick.randint(1, min(len(codes), 6))))
        full, part = indexer.extract(resource), indexer.extract(resource, only=only)
        bases = {code.split(":", 1)[0] for code in only}
        assert _rows_of(part, bases) == _rows_of(full, bases), (rtype, resource.get("id"), only)
        # `_text` words are kept marked (search_words), `_content` words as they are
        marked = {w for w in full.words if w.startswith(NARRATIVE)}
        wanted = (marked if "_text" in only else set()) | (
            set(full.words) - marked if "_content" in only else set()
        )
        assert set(part.words) == wanted, (rtype, resource.get("id"), only)
        assert part.contained == []
        checked += 1
    assert checked > 5000
