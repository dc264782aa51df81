"""Organisation-scoped access and protected identity through HTTP: a unit sees what it has a
care relation to, everything else answers 404, protected addresses never leave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

HSA = "urn:oid:1.2.752.29.4.19"
KOMMUNKOD = "urn:oid:1.2.752.129.2.2.1.17"
WARD = "SE2321000016-AVD7"
STOCKHOLM, SOLNA = "0180", "0184"
READ_ALL = "system/*.rs"
STREET = "Hemliga gatan 1"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.fixture
def world(create: Callable[[dict[str, Any]], str]) -> dict[str, str]:
    def org(system: str, value: str) -> str:
        return create(
            {"resourceType": "Organization", "identifier": [{"system": system, "value": value}]}
        )

    ids = {
        "ward": org(HSA, WARD),
        "other-ward": org(HSA, "SE2321000016-AVD9"),
        "stockholm": org(KOMMUNKOD, STOCKHOLM),
        "solna": org(KOMMUNKOD, SOLNA),
    }
    ids["p1"] = create({"resourceType": "Patient", "name": [{"family": "Ett"}]})
    ids["p2"] = create({"resourceType": "Patient", "name": [{"family": "Tva"}]})
    ids["p3"] = create(
        {
            "resourceType": "Patient",
            "meta": {
                "security": [
                    {"system": "http://electronichealth.se/sekretess", "code": "sekretessmarkering"}
                ]
            },
            "name": [{"family": "Skyddad"}],
            "address": [{"line": [STREET], "city": "Stockholm"}],
            "telecom": [{"system": "phone", "value": "070-1234567"}],
            "contact": [{"telecom": [{"system": "phone", "value": "070-7654321"}]}],
        }
    )

    def stay(patient: str, provider: str) -> str:
        return create(
            {
                "resourceType": "Encounter",
                "status": "in-progress",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": f"Patient/{patient}"},
                "serviceProvider": {"reference": f"Organization/{provider}"},
            }
        )

    ids["e1"] = stay(ids["p1"], ids["ward"])
    ids["e2"] = stay(ids["p2"], ids["other-ward"])
    ids["c1"] = create(
        {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": f"Patient/{ids['p1']}"},
            "encounter": {"reference": f"Encounter/{ids['e1']}"},
            "recipient": [{"reference": f"Organization/{ids['stockholm']}"}],
            "sender": {"reference": f"Organization/{ids['ward']}"},
        }
    )
    ids["c3"] = create(
        {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": f"Patient/{ids['p3']}"},
            # a logical reference by kommunkod is a relation too
            "recipient": [{"identifier": {"system": KOMMUNKOD, "value": STOCKHOLM}}],
        }
    )
    ids["t3"] = create(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": f"Patient/{ids['p3']}"},
            "owner": {"reference": f"Organization/{ids['stockholm']}"},
        }
    )
    ids["t2"] = create(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": f"Patient/{ids['p2']}"},
            "owner": {"reference": f"Organization/{ids['solna']}"},
        }
    )
    ids["o1"] = create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "Vikt"},
            "subject": {"reference": f"Patient/{ids['p1']}"},
        }
    )
    ids["o2"] = create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "Vikt"},
            "subject": {"reference": f"Patient/{ids['p2']}"},
        }
    )
    return ids


def _status(client: TestClient, headers: dict[str, str], path: str) -> int:
    return client.get(path, headers=headers).status_code


def test_municipality_sees_its_cases_only(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    kommun = token_for(READ_ALL, organisation=STOCKHOLM, subject="stockholm")
    visible = [
        f"Patient/{world['p1']}",
        f"Communication/{world['c1']}",
        f"Encounter/{world['e1']}",
        f"Observation/{world['o1']}",
        f"Organization/{world['solna']}",
    ]
    hidden = [
        f"Patient/{world['p2']}",
        f"Encounter/{world['e2']}",
        f"Task/{world['t2']}",
        f"Observation/{world['o2']}",
    ]
    for path in visible:
        assert _status(secure, kommun, f"/{path}") == 200, path
    for path in hidden:
        answer = secure.get(f"/{path}", headers=kommun)
        assert answer.status_code == 404, path
        assert "Tva" not in answer.text
        assert _status(secure, kommun, f"/{path}/_history/1") == 404, path
        history = secure.get(f"/{path}/_history", headers=kommun).json()
        assert "entry" not in history, path
    # the other municipality sees its own Task and that patient, not Stockholm's
    solna = token_for(READ_ALL, organisation=SOLNA)
    assert _status(secure, solna, f"/Task/{world['t2']}") == 200
    assert _status(secure, solna, f"/Patient/{world['p2']}") == 200
    assert _status(secure, solna, f"/Patient/{world['p1']}") == 404


def test_hospital_unit_sees_its_own_stays(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    assert _status(secure, ward, f"/Encounter/{world['e1']}") == 200
    assert _status(secure, ward, f"/Patient/{world['p1']}") == 200
    assert _status(secure, ward, f"/Encounter/{world['e2']}") == 404
    assert _status(secure, ward, f"/Patient/{world['p2']}") == 404


def test_searches_hold_only_what_may_be_seen(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    kommun = token_for(READ_ALL, organisation=STOCKHOLM)
    bundle = secure.get("/Patient", headers=kommun).json()
    ids = {e["resource"]["id"] for e in bundle.get("entry", [])}
    assert ids == {world["p1"], world["p3"]}
    assert bundle["total"] == 2  # narrowed in the store: the total counts what may be seen
    assert "Tva" not in str(bundle)
    history = secure.get("/Observation/_history", headers=kommun).json()
    assert {e["resource"]["id"] for e in history.get("entry", [])} == {world["o1"]}


def test_writes_to_invisible_resources_are_404(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    kommun = token_for("system/*.cruds", organisation=STOCKHOLM)
    task = secure.get(f"/Task/{world['t2']}", headers=token_for(READ_ALL)).json()
    task["status"] = "cancelled"
    assert secure.put(f"/Task/{world['t2']}", json=task, headers=kommun).status_code == 404
    assert secure.delete(f"/Task/{world['t2']}", headers=kommun).status_code == 404
    unchanged = secure.get(f"/Task/{world['t2']}", headers=token_for(READ_ALL)).json()
    assert unchanged["status"] == "requested"


def test_protected_identity_is_redacted(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    kommun = token_for(READ_ALL, organisation=STOCKHOLM)
    answer = secure.get(f"/Patient/{world['p3']}", headers=kommun)
    assert answer.status_code == 200
    body = answer.json()
    assert "address" not in body and "telecom" not in body
    assert "telecom" not in body["contact"][0]
    assert STREET not in answer.text and "070-" not in answer.text
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "SUBSETTED",
    } in body["meta"]["security"]
    for path in (
        f"/Patient?_id={world['p3']}",
        f"/Patient/{world['p3']}/_history",
        f"/Patient/{world['p3']}/_history/1",
        f"/Patient/{world['p3']}?_elements=address",
    ):
        shown = secure.get(path, headers=kommun)
        assert shown.status_code == 200 and STREET not in shown.text, path
    # not even without an organisation, without the dedicated scope
    assert STREET not in secure.get(f"/Patient/{world['p3']}", headers=token_for(READ_ALL)).text
    allowed = token_for(f"{READ_ALL} protected-identity", organisation=STOCKHOLM)
    assert STREET in secure.get(f"/Patient/{world['p3']}", headers=allowed).text


def test_granular_scopes(secure: TestClient, token_for: Any) -> None:
    admin = token_for("system/*.cruds")

    def observation(code: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": code},
            "category": [{"coding": [{"system": CATEGORY, "code": code}]}],
        }

    lab = secure.post("/Observation", json=observation("laboratory"), headers=admin).json()["id"]
    vital = secure.post("/Observation", json=observation("vital-signs"), headers=admin).json()["id"]
    labs = token_for(f"system/Observation.crs?category={CATEGORY}|laboratory")
    assert _status(secure, labs, f"/Observation/{lab}") == 200
    assert _status(secure, labs, f"/Observation/{vital}") == 404
    found = secure.get("/Observation", headers=labs).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [lab] and found["total"] == 1
    assert (
        secure.post("/Observation", json=observation("laboratory"), headers=labs).status_code == 201
    )
    refused = secure.post("/Observation", json=observation("vital-signs"), headers=labs)
    assert refused.status_code == 403
    assert secure.get("/Observation", headers=admin).json()["total"] == 3  # nothing stored


def test_patient_compartment_scopes(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    mine = token_for("patient/*.rs", patient=world["p1"])
    assert _status(secure, mine, f"/Patient/{world['p1']}") == 200
    assert _status(secure, mine, f"/Observation/{world['o1']}") == 200
    assert _status(secure, mine, f"/Patient/{world['p2']}") == 404
    assert _status(secure, mine, f"/Observation/{world['o2']}") == 404
    found = secure.get("/Observation", headers=mine).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [world["o1"]]
