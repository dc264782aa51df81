"""Chained parameters and reverse chaining (_has), to several levels (search.html#chaining)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

PNR = "http://electronichealth.se/identifier/personnummer"
LOINC = "http://loinc.org"


def _ids(client: TestClient, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    answer = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


@pytest.fixture
def world(client: TestClient) -> TestClient:
    _put(client, {"resourceType": "Organization", "id": "vc-nord", "name": "Vårdcentralen Norr"})
    _put(client, {"resourceType": "Organization", "id": "vc-syd", "name": "Vårdcentralen Söder"})
    _put(
        client,
        {
            "resourceType": "Practitioner",
            "id": "dr-a",
            "name": [{"family": "Lindqvist"}],
        },
    )
    for pid, family, pnr, org, gp in [
        ("p1", "Åström", "191212121212", "vc-nord", "Practitioner/dr-a"),
        ("p2", "Berg", "195001011234", "vc-syd", None),
    ]:
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": pid,
            "name": [{"family": family}],
            "identifier": [{"system": PNR, "value": pnr}],
            "managingOrganization": {"reference": f"Organization/{org}"},
        }
        if gp:
            patient["generalPractitioner"] = [{"reference": gp}]
        _put(client, patient)
    for oid, subject, code in [
        ("o1", "Patient/p1", "8867-4"),
        ("o2", "Patient/p2", "8867-4"),
        ("o3", "Patient/p2", "2339-0"),
        ("o4", "Group/g1", "8867-4"),
    ]:
        _put(
            client,
            {
                "resourceType": "Observation",
                "id": oid,
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": {"reference": subject},
            },
        )
    _put(
        client,
        {
            "resourceType": "AuditEvent",
            "id": "a1",
            "type": {"code": "rest"},
            "recorded": "2026-11-24T08:00:00Z",
            "agent": [{"requestor": True, "who": {"reference": "Practitioner/dr-a"}}],
            "source": {"observer": {"reference": "Organization/vc-nord"}},
            "entity": [{"what": {"reference": "Observation/o3"}}],
        },
    )
    return client


def test_chain_with_and_without_type_modifier(world: TestClient) -> None:
    assert _ids(world, "/Observation?subject:Patient.name=astrom") == {"o1"}
    assert _ids(world, "/Observation?subject.name=berg") == {"o2", "o3"}
    assert _ids(world, f"/Observation?patient.identifier={PNR}|191212121212") == {"o1"}
    # and with the other criteria of the search
    assert _ids(world, "/Observation?subject.name=berg&code=2339-0") == {"o3"}


def test_chain_of_several_levels(world: TestClient) -> None:
    url = "/Observation?subject:Patient.organization.name=vardcentralen%20so"
    assert _ids(world, url) == {"o2", "o3"}
    url = "/Observation?subject:Patient.general-practitioner:Practitioner.name=lindq"
    assert _ids(world, url) == {"o1"}


def test_reverse_chaining_and_nesting(world: TestClient) -> None:
    assert _ids(world, "/Patient?_has:Observation:subject:code=2339-0") == {"p2"}
    assert _ids(world, "/Patient?_has:Observation:patient:code=8867-4") == {"p1", "p2"}
    nested = "/Patient?_has:Observation:subject:_has:AuditEvent:entity:agent=Practitioner/dr-a"
    assert _ids(world, nested) == {"p2"}
    # _has and a chain together
    both = "/Patient?_has:Observation:subject:code=8867-4&organization.name=vardcentralen%20n"
    assert _ids(world, both) == {"p1"}


@pytest.mark.parametrize(
    "url",
    [
        "/Observation?code.name=x",  # not a reference parameter
        "/Observation?subject:Basic.name=x",  # a type the parameter cannot refer to
        "/Observation?subject.no-such-param=x",
        "/Patient?_has:Observation:code:status=final",  # not a reference parameter
        "/Patient?_has:Observation:subject",  # no criterion
        "/Patient?_has:Nothing:subject:code=1",
        "/Organization?_has:Observation:patient:code=1",  # patient refers to Patients only
    ],
)
def test_malformed_chains_are_400(world: TestClient, url: str) -> None:
    response = world.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
