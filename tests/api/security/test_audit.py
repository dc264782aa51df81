"""The PDL audit trail through HTTP: each kind of access leaves an AuditEvent naming the
caller, its organisation, the patient and the outcome; writes and their AuditEvent commit
together; AuditEvents cannot be changed or deleted."""

from __future__ import annotations

import base64
import time
from typing import Any

from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.api.security.conftest import BASE

ORG = "SE2321000016-AUD1"
AUDITOR = "system/AuditEvent.rs"


def _events(client: TestClient, token_for: Any, query: str, expect: int | None = None) -> list:
    """AuditEvents matching a query, waiting for the batched read events (bounded)."""
    headers = token_for(AUDITOR, subject="auditor")
    deadline = time.monotonic() + 5
    while True:
        bundle = client.get(f"/AuditEvent?{query}&_count=200", headers=headers).json()
        found = [e["resource"] for e in bundle.get("entry", [])]
        if expect is None or len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _subtype(event: dict) -> str:
    return str(event["subtype"][0]["code"])


def test_every_kind_of_access_is_audited(secure: TestClient, token_for: Any) -> None:
    headers = token_for("system/Patient.cruds", subject="ward-7", organisation=None)
    pid = secure.post("/Patient", json={"resourceType": "Patient"}, headers=headers).json()["id"]
    secure.get(f"/Patient/{pid}", headers=headers)
    secure.get(f"/Patient/{pid}/_history/1", headers=headers)
    secure.get(f"/Patient?_id={pid}", headers=headers)
    secure.get(f"/Patient/{pid}/_history", headers=headers)
    secure.put(
        f"/Patient/{pid}",
        json={"resourceType": "Patient", "id": pid, "active": True},
        headers=headers,
    )
    secure.delete(f"/Patient/{pid}", headers=headers)
    events = _events(secure, token_for, f"patient=Patient/{pid}", expect=7)
    kinds = sorted(_subtype(e) for e in events)
    assert kinds == sorted(
        ["create", "read", "vread", "search-type", "history-instance", "update", "delete"]
    )
    for event in events:
        requestor = event["agent"][0]
        assert requestor["altId"] == "ward-7" and requestor["requestor"] is True
        assert requestor["network"]["address"] == "testclient"
        assert event["outcome"] == "0"
        patients = [
            e["what"]["reference"] for e in event["entity"] if e.get("role", {}).get("code") == "1"
        ]
        assert patients == [f"Patient/{pid}"]
    actions = {_subtype(e): e["action"] for e in events}
    assert actions["create"] == "C" and actions["update"] == "U" and actions["delete"] == "D"
    # the request as it came: path and query, in the Query entity (base64 and readable)
    queries = {
        _subtype(e): (q["description"], base64.b64decode(q["query"]).decode())
        for e in events
        for q in e["entity"]
        if q.get("role", {}).get("code") == "24"
    }
    assert queries["search-type"] == (f"/Patient?_id={pid}",) * 2
    assert queries["read"] == (f"/Patient/{pid}",) * 2
    assert actions["read"] == "R"
    # searchable by user too
    by_user = _events(secure, token_for, "altid=ward-7", expect=7)
    assert len(by_user) >= 7


def test_organisation_and_resources_of_a_read(secure: TestClient, token_for: Any) -> None:
    admin = token_for("system/*.cruds")
    pid = secure.post("/Patient", json={"resourceType": "Patient"}, headers=admin).json()["id"]
    org = secure.post(
        "/Organization",
        json={
            "resourceType": "Organization",
            "identifier": [{"system": "urn:oid:1.2.752.29.4.19", "value": ORG}],
        },
        headers=admin,
    ).json()["id"]
    stay = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{pid}"},
        "serviceProvider": {"reference": f"Organization/{org}"},
    }
    eid = secure.post("/Encounter", json=stay, headers=admin).json()["id"]
    unit = token_for("system/Encounter.rs", subject="ward-app", organisation=ORG)
    assert secure.get(f"/Encounter/{eid}", headers=unit).status_code == 200
    events = [e for e in _events(secure, token_for, "altid=ward-app", expect=1)]
    assert len(events) == 1
    agents = events[0]["agent"]
    assert agents[1]["who"]["identifier"] == {"system": "urn:oid:1.2.752.29.4.19", "value": ORG}
    whats = [e.get("what", {}).get("reference") for e in events[0]["entity"]]
    assert f"Patient/{pid}" in whats and f"Encounter/{eid}/_history/1" in whats


def test_a_failed_write_is_audited_with_its_failure(secure: TestClient, token_for: Any) -> None:
    headers = token_for("system/Patient.cruds", subject="writer")
    pid = secure.post("/Patient", json={"resourceType": "Patient"}, headers=headers).json()["id"]
    stale = secure.put(
        f"/Patient/{pid}",
        json={"resourceType": "Patient", "id": pid, "active": False},
        headers={**headers, "If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412
    events = _events(secure, token_for, "altid=writer", expect=2)
    update = [e for e in events if _subtype(e) == "update"]
    assert len(update) == 1  # no success event for the rolled-back write
    assert update[0]["outcome"] == "4" and "If-Match" in update[0]["outcomeDesc"]
    assert secure.get(f"/Patient/{pid}", headers=headers).json()["meta"]["versionId"] == "1"


def test_write_and_audit_event_commit_together(secure: TestClient, token_for: Any) -> None:
    """A transaction that fails half-way stores neither its writes nor a success event."""
    headers = token_for("system/Patient.cruds", subject="tx-writer")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "x"},
                "request": {"method": "PUT", "url": "Patient/x", "ifMatch": 'W/"3"'},
            },
        ],
    }
    assert secure.post("/", json=bundle, headers=headers).status_code == 412
    events = _events(secure, token_for, "altid=tx-writer", expect=1)
    assert [e["outcome"] for e in events] == ["4"]
    assert secure.get("/Patient", headers=headers).json()["total"] == 0


def test_audit_events_cannot_be_changed_or_deleted(secure: TestClient, token_for: Any) -> None:
    headers = token_for("system/Patient.cruds", subject="someone")
    secure.post("/Patient", json={"resourceType": "Patient"}, headers=headers)
    event = _events(secure, token_for, "altid=someone", expect=1)[0]
    full = token_for("system/AuditEvent.cruds")
    changed = {**event, "outcome": "0", "agent": [{"requestor": True, "altId": "nobody"}]}
    put = secure.put(f"/AuditEvent/{event['id']}", json=changed, headers=full)
    assert put.status_code == 405 and put.json()["resourceType"] == "OperationOutcome"
    deleted = secure.delete(f"/AuditEvent/{event['id']}", headers=full)
    assert deleted.status_code == 405
    patch = secure.patch(
        f"/AuditEvent/{event['id']}",
        json=[{"op": "replace", "path": "/outcome", "value": "8"}],
        headers={**full, "Content-Type": "application/json-patch+json"},
    )
    assert patch.status_code == 405
    again = secure.get(f"/AuditEvent/{event['id']}", headers=full).json()
    assert again["meta"]["versionId"] == "1" and again["agent"][0]["altId"] == "someone"


def test_reads_are_flushed_at_shutdown(secure_settings: Settings, token_for: Any) -> None:
    with TestClient(create_app(secure_settings), base_url=BASE) as first:
        headers = token_for("system/Patient.rs", subject="reader")
        for _ in range(5):
            first.get("/Patient", headers=headers)
    with TestClient(create_app(secure_settings), base_url=BASE) as second:
        found = second.get("/AuditEvent?altid=reader", headers=token_for(AUDITOR)).json()
        assert found["total"] == 5


def test_denied_and_missing_reads(secure: TestClient, token_for: Any) -> None:
    headers = token_for("system/Patient.rs", subject="prober")
    assert secure.get("/Patient/nope", headers=headers).status_code == 404
    events = _events(secure, token_for, "altid=prober", expect=1)
    assert events[0]["outcome"] == "4"
