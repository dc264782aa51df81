"""Compartment search (Patient/123/Observation) and Patient/$everything."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


def _keys(bundle: dict[str, Any]) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    }


@pytest.fixture
def record(client: TestClient) -> TestClient:
    _put(client, {"resourceType": "Organization", "id": "vc"})
    _put(client, {"resourceType": "Practitioner", "id": "dr"})
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "p1",
            "managingOrganization": {"reference": "Organization/vc"},
            "link": [{"other": {"reference": "Patient/p1-old"}, "type": "replaces"}],
        },
    )
    _put(client, {"resourceType": "Patient", "id": "p1-old"})
    _put(client, {"resourceType": "Patient", "id": "p2"})
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    _put(client, {**observation, "id": "o1", "subject": {"reference": "Patient/p1"}})
    _put(
        client,
        {
            **observation,
            "id": "o2",
            "status": "amended",
            "subject": {"reference": "Group/g"},
            "performer": [{"reference": "Patient/p1"}, {"reference": "Practitioner/dr"}],
        },
    )
    _put(client, {**observation, "id": "o3", "subject": {"reference": "Patient/p2"}})
    _put(
        client,
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "in-progress",
            "class": {"code": "IMP"},
            "subject": {"reference": "Patient/p1"},
        },
    )
    _put(
        client,
        {
            "resourceType": "Communication",
            "id": "c1",
            "status": "completed",
            "recipient": [{"reference": "Patient/p1"}],
        },
    )
    return client


def test_compartment_search_by_every_parameter_of_the_definition(record: TestClient) -> None:
    bundle = record.get("/Patient/p1/Observation").json()
    assert _keys(bundle) == {"Observation/o1", "Observation/o2"}  # subject and performer
    assert bundle["total"] == 2
    narrowed = record.get("/Patient/p1/Observation?status=amended").json()
    assert _keys(narrowed) == {"Observation/o2"}
    assert _keys(record.get("/Patient/p2/Observation").json()) == {"Observation/o3"}
    assert _keys(record.get("/Patient/p1/Communication").json()) == {"Communication/c1"}
    # the focal patient is in its own compartment, and so is a patient it links to
    assert _keys(record.get("/Patient/p1/Patient").json()) == {"Patient/p1"}
    self_link = next(x["url"] for x in narrowed["link"] if x["relation"] == "self")
    assert "/Patient/p1/Observation?status=amended" in self_link


def test_compartment_errors(record: TestClient) -> None:
    assert record.get("/Nothing/p1/Observation").status_code == 404
    assert record.get("/Patient/p1/Nothing").status_code == 404
    assert record.get("/Patient/p1/Organization").status_code == 400  # never in it
    assert record.get("/Patient/p1/Observation?nosuch=1").status_code == 400
    assert record.post("/Patient/p1/Observation").status_code == 405


def test_everything_is_the_record_and_what_it_refers_to(record: TestClient) -> None:
    bundle = record.get("/Patient/p1/$everything").json()
    assert bundle["type"] == "searchset"
    assert _keys(bundle) == {
        "Patient/p1",
        "Observation/o1",
        "Observation/o2",
        "Encounter/e1",
        "Communication/c1",
        "Organization/vc",
        "Practitioner/dr",
        "Patient/p1-old",
    }
    only = record.get("/Patient/p1/$everything?_type=Observation,Patient").json()
    assert _keys(only) == {"Patient/p1", "Observation/o1", "Observation/o2", "Patient/p1-old"}
    later = record.get("/Patient/p1/$everything?_since=2999-01-01T00:00:00Z").json()
    assert _keys(later) == set()
    assert record.get("/Patient/nobody/$everything").status_code == 404
    assert record.get("/Patient/p1/$everything?_type=Nothing").status_code == 400
    assert record.get("/Patient/p1/$everything?_since=yesterday").status_code == 400
    assert record.get("/Observation/o1/$everything").status_code == 404


def test_everything_pages(record: TestClient) -> None:
    seen: list[str] = []
    bundle: dict[str, Any] | None = record.get("/Patient/p1/$everything?_count=3").json()
    pages = 0
    while bundle is not None and pages < 10:
        pages += 1
        seen += sorted(_keys(bundle))
        url = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
        if url is None:
            break
        parts = urlsplit(url)
        bundle = record.get(parts.path, params=parse_qsl(parts.query)).json()
    assert pages == 3 and len(seen) == 8 and len(set(seen)) == 8


def test_type_level_everything_covers_every_patient(record: TestClient) -> None:
    keys = _keys(record.get("/Patient/$everything").json())
    assert {"Patient/p1", "Patient/p2", "Observation/o3", "Encounter/e1"} <= keys
