"""Exporting the audit trail for a PDL follow-up: `AuditEvent/$audit-export` (NDJSON,
streamed, filtered by period, patient and user; an organisation gets only its own events;
it changes nothing) and `fhir-server audit export` (the store directly)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.cli import main
from fhir_server.config import Settings
from tests.api.security.conftest import BASE

AUDITOR = "system/AuditEvent.rs"
ORG_A = "SE2321000016-EXPA"
ORG_B = "SE2321000016-EXPB"
EXPORT = "/AuditEvent/$audit-export"


def _lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    return [orjson.loads(line) for line in response.content.splitlines() if line]


def _export(client: TestClient, headers: dict[str, str], query: str, expect: int = 0) -> list:
    """The export, waiting (bounded) for batched read events to reach the store."""
    deadline = time.monotonic() + 5
    while True:
        events = _lines(client.get(f"{EXPORT}?{query}", headers=headers))
        if len(events) >= expect or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def _patients(event: dict[str, Any]) -> list[str]:
    return [
        e["what"]["reference"]
        for e in event.get("entity", [])
        if e.get("role", {}).get("code") == "1"
    ]


@pytest.fixture
def trail(secure: TestClient, token_for: Any) -> dict[str, str]:
    """Two patients; nurse-a reads the first twice, nurse-b the second once."""
    admin = token_for("system/*.cruds", subject="admin")
    ids = {}
    for name in ("first", "second"):
        created = secure.post("/Patient", json={"resourceType": "Patient"}, headers=admin)
        ids[name] = created.json()["id"]
    nurse_a = token_for("system/Patient.rs", subject="nurse-a")
    nurse_b = token_for("system/Patient.rs", subject="nurse-b")
    assert secure.get(f"/Patient/{ids['first']}", headers=nurse_a).status_code == 200
    assert secure.get(f"/Patient?_id={ids['first']}", headers=nurse_a).status_code == 200
    assert secure.get(f"/Patient/{ids['second']}", headers=nurse_b).status_code == 200
    return ids


def test_export_by_patient_and_by_user(
    secure: TestClient, token_for: Any, trail: dict[str, str]
) -> None:
    auditor = token_for(AUDITOR, subject="auditor")
    first, second = trail["first"], trail["second"]
    about_first = _export(secure, auditor, f"patient={first}", expect=3)
    assert all(e["resourceType"] == "AuditEvent" for e in about_first)
    assert all(f"Patient/{first}" in _patients(e) for e in about_first)
    assert sorted(e["subtype"][0]["code"] for e in about_first) == [
        "create",
        "read",
        "search-type",
    ]
    recorded = [e["recorded"] for e in about_first]
    assert recorded == sorted(recorded)  # oldest first
    by_b = _export(secure, auditor, "user=nurse-b", expect=1)
    assert len(by_b) == 1 and by_b[0]["agent"][0]["altId"] == "nurse-b"
    assert _patients(by_b[0]) == [f"Patient/{second}"]
    both = _export(secure, auditor, f"patient=Patient/{first}&user=nurse-a", expect=2)
    assert len(both) == 2
    assert {e["agent"][0]["altId"] for e in both} == {"nurse-a"}
    # the period: nothing before the first event, nothing from tomorrow
    first_at = recorded[0]
    assert _export(secure, auditor, f"until={first_at[:4]}-01-01") == []
    assert _export(secure, auditor, "since=2999-01-01") == []
    everything = _export(secure, auditor, "since=2000-01-01&until=2999-01-01", expect=6)
    assert len(everything) >= 6
    assert len({e["id"] for e in everything}) == len(everything)


def test_export_pages_through_many_events(secure: TestClient, token_for: Any) -> None:
    reader = token_for("system/Patient.rs", subject="busy-reader")
    for _ in range(1_100):  # more than two pages of the export
        secure.get("/Patient/none", headers=reader)
    events = _export(secure, token_for(AUDITOR), "user=busy-reader", expect=1_100)
    assert len(events) == 1_100 and len({e["id"] for e in events}) == 1_100


def test_an_organisation_exports_only_its_own_events(secure: TestClient, token_for: Any) -> None:
    for organisation, subject in ((ORG_A, "unit-a"), (ORG_B, "unit-b")):
        headers = token_for("system/Organization.rs", subject=subject, organisation=organisation)
        assert secure.get("/Organization", headers=headers).status_code == 200
    everyone = _export(secure, token_for(AUDITOR), "", expect=2)
    assert {"unit-a", "unit-b"} <= {e["agent"][0]["altId"] for e in everyone}
    own = _export(secure, token_for(AUDITOR, subject="auditor-a", organisation=ORG_A), "")
    assert own, "the organisation's own events are exported"
    for event in own:
        organisations = [a["altId"] for a in event["agent"] if a["type"]["text"] == "organisation"]
        assert organisations == [ORG_A], event
    assert "unit-b" not in {e["agent"][0]["altId"] for e in own}
    assert _export(secure, token_for(AUDITOR, organisation=ORG_A), "user=unit-b") == []


def test_export_needs_the_audit_scope_and_checks_its_parameters(
    secure: TestClient, token_for: Any
) -> None:
    assert secure.get(EXPORT).status_code == 401
    denied = secure.get(EXPORT, headers=token_for("system/Patient.rs"))
    assert denied.status_code == 403
    assert denied.json()["resourceType"] == "OperationOutcome"
    assert secure.get(EXPORT, headers=token_for("system/AuditEvent.r")).status_code == 403
    auditor = token_for(AUDITOR)
    for query in ("since=yesterday", "until=2020-13-45", "patient=a%20b", "colour=red", "user="):
        response = secure.get(f"{EXPORT}?{query}", headers=auditor)
        assert response.status_code == 400, query
        assert response.json()["resourceType"] == "OperationOutcome"
    assert secure.get(f"/Patient/{EXPORT[1:]}", headers=auditor).status_code in (400, 404)


def test_export_changes_nothing(secure: TestClient, token_for: Any, trail: dict[str, str]) -> None:
    auditor = token_for("system/AuditEvent.cruds", subject="auditor")
    before = _export(secure, auditor, f"patient={trail['first']}", expect=3)
    posted = secure.post(
        EXPORT,
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "patient", "valueString": trail["first"]}],
        },
        headers=auditor,
    )
    assert [e["id"] for e in _lines(posted)] == [e["id"] for e in before]
    for event in before:
        changed = {**event, "outcome": "8"}
        put = secure.put(f"/AuditEvent/{event['id']}", json=changed, headers=auditor)
        assert put.status_code == 405
        assert secure.delete(f"/AuditEvent/{event['id']}", headers=auditor).status_code == 405
    after = _export(secure, auditor, f"patient={trail['first']}")
    assert after == before  # the same events, unchanged (versionId 1)
    assert all(e["meta"]["versionId"] == "1" for e in after)


def test_the_command_exports_from_the_store(
    secure_settings: Settings, token_for: Any, tmp_path: Path, capsys: Any
) -> None:
    with TestClient(create_app(secure_settings), base_url=BASE) as client:
        admin = token_for("system/*.cruds", subject="admin")
        pid = client.post("/Patient", json={"resourceType": "Patient"}, headers=admin).json()["id"]
        reader = token_for("system/Patient.rs", subject="ward-9")
        client.get(f"/Patient/{pid}", headers=reader)
        client.get("/Patient", headers=reader)
    # the app is closed: its read events are in the store
    output = tmp_path / "audit.ndjson"
    data_dir = str(secure_settings.data_dir)
    with pytest.raises(SystemExit) as done:
        main(["audit", "export", "--data-dir", data_dir, "--patient", pid, "--output", str(output)])
    assert done.value.code == 0
    events = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    # the search found the patient too
    assert sorted(e["subtype"][0]["code"] for e in events) == ["create", "read", "search-type"]
    assert "3 AuditEvents written" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(
            ["audit", "export", "--data-dir", data_dir, "--user", "ward-9", "--output", str(output)]
        )
    assert done.value.code == 0
    events = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert sorted(e["subtype"][0]["code"] for e in events) == ["read", "search-type"]
    args = ["audit", "export", "--data-dir", data_dir, "--since", "2999-01-01", "--output"]
    with pytest.raises(SystemExit) as done:
        main([*args, str(output)])
    assert done.value.code == 0 and output.read_bytes() == b""
    with pytest.raises(SystemExit) as done:
        main(["audit", "export", "--data-dir", data_dir, "--since", "soon", "--output", "-"])
    assert done.value.code == 2
    assert "since=soon" in capsys.readouterr().err
