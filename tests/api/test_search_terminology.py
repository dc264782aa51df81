"""Token :in, :not-in (ValueSets the server knows), :above and :below (CodeSystem
hierarchies), on either store (search.html#token)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CARE_TYPE = "https://lus.example.se/fhir/CodeSystem/lus-care-type"
CARE_TYPES = "https://lus.example.se/fhir/ValueSet/lus-care-type"
GENDERS = "http://hl7.org/fhir/ValueSet/administrative-gender"


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _ids(client: TestClient, query: str) -> set[str]:
    answer = client.get(query)
    assert answer.status_code == 200, answer.text
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


def _encounter(eid: str, code: str, care_type: str | None = None) -> dict[str, Any]:
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "in-progress",
        "class": {"system": ACT, "code": code},
    }
    if care_type:
        encounter["type"] = [{"coding": [{"system": CARE_TYPE, "code": care_type}]}]
    return encounter


@pytest.fixture
def data(client: TestClient) -> TestClient:
    _put(client, _encounter("inpatient", "IMP", "somatisk"))
    _put(client, _encounter("acute", "ACUTE", "psykiatrisk"))
    _put(client, _encounter("ambulatory", "AMB"))
    _put(
        client,
        {
            "resourceType": "Encounter",
            "id": "other",
            "status": "in-progress",
            "class": {"system": "http://example.se/class", "code": "IMP"},
            "type": [{"coding": [{"system": "http://example.se/type", "code": "somatisk"}]}],
        },
    )
    _put(client, {"resourceType": "Patient", "id": "f", "gender": "female"})
    _put(client, {"resourceType": "Patient", "id": "x"})
    return client


def test_in_and_not_in_a_value_set(data: TestClient) -> None:
    assert _ids(data, f"/Encounter?type:in={CARE_TYPES}") == {"inpatient", "acute"}
    # a code of another system is not in the value set, though the code is the same
    assert _ids(data, f"/Encounter?type:not-in={CARE_TYPES}") == {"ambulatory", "other"}
    # a `code` element has no system of its own: its code is looked for
    assert _ids(data, f"/Patient?gender:in={GENDERS}") == {"f"}
    assert _ids(data, f"/Patient?gender:not-in={GENDERS}") == {"x"}
    both = f"/Encounter?type:in={CARE_TYPES},{GENDERS}"
    assert _ids(data, both) == {"inpatient", "acute"}


def test_below_and_above_follow_the_hierarchy(data: TestClient) -> None:
    # in v3-ActCode, ACUTE is an IMP (inpatient encounter)
    assert _ids(data, f"/Encounter?class:below={ACT}|IMP") == {"inpatient", "acute"}
    assert _ids(data, f"/Encounter?class:below={ACT}|ACUTE") == {"acute"}
    assert _ids(data, f"/Encounter?class:above={ACT}|ACUTE") == {"inpatient", "acute"}
    assert _ids(data, f"/Encounter?class:above={ACT}|IMP") == {"inpatient"}
    assert _ids(data, f"/Encounter?class:below={ACT}|AMB,{ACT}|ACUTE") == {"ambulatory", "acute"}
    assert _ids(data, f"/Encounter?class:below={ACT}|_ActEncounterCode") == {
        "inpatient",
        "acute",
        "ambulatory",
    }


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (
            "Encounter?type:in=http://example.se/ValueSet/unknown",
            "http://example.se/ValueSet/unknown",
        ),
        # LOINC is not enumerable here
        ("Observation?code:in=http://hl7.org/fhir/ValueSet/observation-codes", "observation-codes"),
        ("Encounter?class:below=IMP", "system|code"),
        ("Encounter?class:below=http://snomed.info/sct|123", "http://snomed.info/sct"),
        (f"Encounter?class:above={ACT}|NO-SUCH-CODE", "NO-SUCH-CODE"),
    ],
)
def test_what_cannot_be_expanded_is_400(data: TestClient, query: str, named: str) -> None:
    answer = data.get(f"/{query}")
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert named in outcome["issue"][0]["diagnostics"]


def test_conditional_update_takes_in(data: TestClient) -> None:
    answer = data.put(
        f"/Encounter?type:in={CARE_TYPES}&class:below={ACT}|ACUTE",
        json=_encounter("acute", "ACUTE", "somatisk"),
    )
    assert answer.status_code == 200, answer.text
    assert _ids(data, f"/Encounter?type={CARE_TYPE}|somatisk") == {"inpatient", "acute"}
