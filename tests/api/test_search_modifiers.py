"""Reference :identifier, token :of-type and _list (search.html)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

PNR = "http://electronichealth.se/identifier/personnummer"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
HSA = "urn:oid:1.2.752.29.4.19"


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _ids(client: TestClient, url: str) -> set[str]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


@pytest.fixture
def data(client: TestClient) -> TestClient:
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "p1",
            "identifier": [
                {
                    "type": {"coding": [{"system": V2, "code": "NI"}]},
                    "system": PNR,
                    "value": "191212121212",
                },
                {"type": {"coding": [{"system": V2, "code": "MR"}]}, "value": "J-1"},
            ],
        },
    )
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "p2",
            "identifier": [{"system": PNR, "value": "J-1"}],
        },
    )
    # a notice whose recipient is named only by the care unit's HSA-id (a logical reference)
    _put(
        client,
        {
            "resourceType": "Communication",
            "id": "c1",
            "status": "completed",
            "recipient": [{"identifier": {"system": HSA, "value": "SE2321000016-ABCD"}}],
        },
    )
    _put(
        client,
        {
            "resourceType": "Communication",
            "id": "c2",
            "status": "completed",
            "recipient": [{"reference": "Organization/x", "identifier": {"value": "other"}}],
        },
    )
    _put(
        client,
        {
            "resourceType": "List",
            "id": "utskrivningsklara",
            "status": "current",
            "mode": "working",
            "entry": [{"item": {"reference": "Patient/p1"}}, {"item": {"reference": "Patient/p9"}}],
        },
    )
    return client


def test_reference_identifier(data: TestClient) -> None:
    url = f"/Communication?recipient:identifier={HSA}|SE2321000016-ABCD"
    assert _ids(data, url) == {"c1"}
    assert _ids(data, "/Communication?recipient:identifier=other") == {"c2"}
    assert _ids(data, f"/Communication?recipient:identifier={HSA}|other") == set()
    # the logical reference is not a literal one
    assert _ids(data, "/Communication?recipient=Organization/x") == {"c2"}


def test_identifier_of_type(data: TestClient) -> None:
    assert _ids(data, f"/Patient?identifier:of-type={V2}|MR|J-1") == {"p1"}
    assert _ids(data, f"/Patient?identifier:of-type={V2}|NI|191212121212") == {"p1"}
    assert _ids(data, f"/Patient?identifier:of-type={V2}|NI|J-1") == set()
    assert _ids(data, "/Patient?identifier=J-1") == {"p1", "p2"}  # without the type
    answer = data.get("/Patient?identifier:of-type=MR|J-1")
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["identifier:of-type"]


def test_list(data: TestClient) -> None:
    assert _ids(data, "/Patient?_list=utskrivningsklara") == {"p1"}
    assert _ids(data, "/Patient?_list=nosuchlist") == set()
    assert data.get("/Patient?_list=$current-allergies").status_code == 400
