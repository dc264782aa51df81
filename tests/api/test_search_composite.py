"""Composite search parameters (search.html#composite), on either store."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
PANEL = "85354-9"


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _ids(client: TestClient, query: str) -> set[str]:
    answer = client.get(query)
    assert answer.status_code == 200, answer.text
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


def _mmhg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}


def _component(code: str, value: float) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": _mmhg(value),
    }


def _pressure(oid: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": PANEL}]},
        "component": [_component(SYSTOLIC, systolic), _component(DIASTOLIC, diastolic)],
    }


@pytest.fixture
def data(client: TestClient) -> TestClient:
    _put(client, _pressure("bp1", 150, 85))  # high systolic
    _put(client, _pressure("bp2", 110, 155))  # a high diastolic: 155 in the OTHER component
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "hr",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
            "valueQuantity": {"value": 72, "unit": "/min", "system": UCUM, "code": "/min"},
        },
    )
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "smoke",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
            "valueCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]
            },
        },
    )
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "when",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "21112-8"}]},
            "valueDateTime": "1950-06-15",
        },
    )
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "note",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8251-1"}]},
            "valueString": "Åsa mår bra",
        },
    )
    _put(
        client,
        {
            "resourceType": "Group",
            "id": "g1",
            "type": "person",
            "actual": True,
            "characteristic": [
                {
                    "code": {"coding": [{"system": "http://example.se/c", "code": "kommun"}]},
                    "valueCodeableConcept": {
                        "coding": [{"system": "urn:oid:1.2.752.129.2.2.1.18", "code": "0180"}]
                    },
                    "exclude": False,
                },
                {
                    "code": {"coding": [{"system": "http://example.se/c", "code": "age"}]},
                    "valueBoolean": True,
                    "exclude": False,
                },
            ],
        },
    )
    return client


def test_component_code_and_value_must_come_from_the_same_component(data: TestClient) -> None:
    url = "/Observation?component-code-value-quantity="
    assert _ids(data, f"{url}{LOINC}|{SYSTOLIC}$gt140") == {"bp1"}
    assert _ids(data, f"{url}{LOINC}|{DIASTOLIC}$gt140") == {"bp2"}
    # bp2's systolic is 110 and some component of it is over 140, but not the systolic one
    assert _ids(data, f"{url}{SYSTOLIC}$gt140") == {"bp1"}
    assert _ids(data, f"{url}{SYSTOLIC}$lt120") == {"bp2"}
    assert _ids(data, f"{url}{SYSTOLIC}$gt200") == set()
    # quantity units and prefixes inside a component
    assert _ids(data, f"{url}{SYSTOLIC}$150|{UCUM}|mm[Hg]") == {"bp1"}
    assert _ids(data, f"{url}{SYSTOLIC}$150||mmHg") == {"bp1"}
    assert _ids(data, f"{url}{SYSTOLIC}$150|{UCUM}|kg") == set()
    # comma: OR of whole composite values
    assert _ids(data, f"{url}{SYSTOLIC}$gt140,{DIASTOLIC}$gt140") == {"bp1", "bp2"}
    # AND of two composite values: each may come from its own component
    both = f"{url}{SYSTOLIC}$gt100&component-code-value-quantity={DIASTOLIC}$gt100"
    assert _ids(data, both) == {"bp2"}


def test_code_value_on_the_observation_itself(data: TestClient) -> None:
    assert _ids(data, f"/Observation?code-value-quantity={LOINC}|8867-4$gt70") == {"hr"}
    assert _ids(data, f"/Observation?code-value-quantity={LOINC}|8867-4$lt70") == set()
    # the panel's own code has no value: its components' values are not its value
    assert _ids(data, f"/Observation?code-value-quantity={PANEL}$gt10") == set()
    assert _ids(data, f"/Observation?combo-code-value-quantity={SYSTOLIC}$gt140") == {"bp1"}
    assert _ids(data, "/Observation?combo-code-value-quantity=8867-4$72") == {"hr"}
    concept = "/Observation?code-value-concept=72166-2$http://snomed.info/sct|8517006"
    assert _ids(data, concept) == {"smoke"}
    assert _ids(data, "/Observation?code-value-concept=72166-2$123") == set()
    assert _ids(data, "/Observation?code-value-date=21112-8$1950") == {"when"}
    assert _ids(data, "/Observation?code-value-date=21112-8$gt1951") == set()
    assert _ids(data, "/Observation?code-value-string=8251-1$asa") == {"note"}
    assert _ids(data, "/Observation?code-value-string=8251-1$bra") == set()


def test_group_characteristic_value(data: TestClient) -> None:
    url = "/Group?characteristic-value="
    assert _ids(data, f"{url}kommun$0180") == {"g1"}
    assert _ids(data, f"{url}http://example.se/c|age$true") == {"g1"}
    assert _ids(data, f"{url}age$false") == set()
    assert _ids(data, f"{url}age$0180") == set()  # the value of the other characteristic


def test_missing_and_escaped_dollar(data: TestClient) -> None:
    assert _ids(data, "/Observation?component-code-value-quantity:missing=false") == {
        "bp1",
        "bp2",
    }
    assert "hr" in _ids(data, "/Observation?component-code-value-quantity:missing=true")
    assert _ids(data, "/Observation?code-value-string=8251-1$\\$x") == set()


@pytest.mark.parametrize(
    "query",
    [
        "component-code-value-quantity=8480-6",  # one component of two
        "component-code-value-quantity=8480-6$1$2",
        "component-code-value-quantity=8480-6$",
        "component-code-value-quantity=8480-6$abc",
        "component-code-value-quantity:exact=8480-6$1",
        "code-value-date=21112-8$1950-13",
    ],
)
def test_malformed_composite_values_are_400(data: TestClient, query: str) -> None:
    answer = data.get(f"/Observation?{query}")
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert query.split("=")[0] in outcome["issue"][0]["expression"][0]


def test_an_update_replaces_the_composite_rows(data: TestClient) -> None:
    _put(data, _pressure("bp1", 120, 80))
    url = "/Observation?component-code-value-quantity="
    assert _ids(data, f"{url}{SYSTOLIC}$gt140") == set()
    assert _ids(data, f"{url}{SYSTOLIC}$120") == {"bp1"}
    assert data.delete("/Observation/bp1").status_code in (200, 204)
    assert _ids(data, f"{url}{SYSTOLIC}$120") == set()
