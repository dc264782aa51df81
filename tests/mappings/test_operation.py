"""$hl7v2-adt: the message as a Parameters string or as the raw ER7 body, the ACK and an
OperationOutcome back (200 AA, 422 AE, 400 AR), write scopes on Patient and Encounter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.mappings.messages import (
    PERSONNUMMER,
    VISIT_SYSTEM,
    adt,
    personnummer,
    segments,
    twelve,
)
from tests.support.smart import bearer, server_token


def _parameters(message: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "message", "valueString": message}],
    }


def _value(body: dict[str, Any], name: str) -> Any:
    (value,) = [p for p in body["parameter"] if p["name"] == name]
    return value.get("valueString", value.get("valueCode", value.get("resource")))


def _count(client: TestClient, kind: str, identifier: str, **headers: str) -> int:
    response = client.get(f"/{kind}", params={"identifier": identifier}, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json().get("entry", []))


def test_a_parameters_message_is_applied_and_answered_with_its_ack(client: TestClient) -> None:
    pnr = personnummer("19401016", "578")
    response = client.post(
        "/$hl7v2-adt", json=_parameters(adt("A01", pnr=pnr, visit="VT-OP-1", control="OP1"))
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Parameters"
    assert _value(body, "code") == "AA"
    ack = segments(_value(body, "ack"))
    assert ack["MSA"][1:3] == ["AA", "OP1"]
    written = [
        p["valueReference"]["reference"] for p in body["parameter"] if p["name"] == "written"
    ]
    assert [w.split("/")[0] for w in written] == ["Patient", "Encounter"]
    outcome = _value(body, "outcome")
    assert outcome["issue"][0]["severity"] == "information"
    patient = client.get("/" + written[0].split("/_history")[0]).json()
    assert patient["identifier"][0] == {"system": PERSONNUMMER, "value": twelve(pnr)}
    # then a discharge of the stay, sent as the raw ER7 body
    discharge = adt("A03", pnr=pnr, visit="VT-OP-1", discharged="20260218103000")
    response = client.post(
        "/$hl7v2-adt",
        content=discharge.encode(),
        headers={"Content-Type": "x-application/hl7-v2+er7"},
    )
    assert response.status_code == 200, response.text
    stay = client.get("/" + written[1].split("/_history")[0]).json()
    assert stay["status"] == "finished" and stay["period"]["end"] == "2026-02-18T10:30:00+01:00"


def test_an_application_error_is_422_and_stores_nothing(client: TestClient) -> None:
    pnr = personnummer("19401016", "586")
    bad = adt("A01", pnr=pnr, visit="VT-OP-2", patient_class="E")
    response = client.post("/$hl7v2-adt", content=bad, headers={"Content-Type": "text/plain"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert _value(body, "code") == "AE"
    assert segments(_value(body, "ack"))["ERR"][2] == "PV1^1^2^1"
    issue = _value(body, "outcome")["issue"][0]
    assert issue["severity"] == "error" and "PV1-2" in issue["diagnostics"]
    assert "nothing was stored" in issue["diagnostics"]
    assert not [p for p in body["parameter"] if p["name"] == "written"]
    assert _count(client, "Patient", f"{PERSONNUMMER}|{twelve(pnr)}") == 0
    assert _count(client, "Encounter", f"{VISIT_SYSTEM}|VT-OP-2") == 0


def test_a_rejected_message_is_400(client: TestClient) -> None:
    response = client.post("/$hl7v2-adt", json=_parameters("PID|1||x\r"))
    assert response.status_code == 400
    assert _value(response.json(), "code") == "AR"


def test_no_message_is_a_bad_request(client: TestClient) -> None:
    response = client.post("/$hl7v2-adt", json={"resourceType": "Parameters", "parameter": []})
    assert response.status_code == 400
    assert "message" in response.json()["issue"][0]["diagnostics"]
    assert client.get("/$hl7v2-adt").status_code == 405  # it changes state: POST only


@pytest.fixture
def secure_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", insecure_no_auth=False, publish_definitions=False)


@pytest.fixture
def secure(secure_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secure_settings)) as test_client:
        yield test_client


def test_under_security_it_needs_write_scopes_on_patient_and_encounter(
    secure: TestClient, secure_settings: Settings
) -> None:
    def token(scopes: str) -> dict[str, str]:
        return bearer(server_token(secure_settings.data_dir, scopes))

    pnr = personnummer("19401016", "594")
    message = _parameters(adt("A01", pnr=pnr, visit="VT-OP-3"))
    assert secure.post("/$hl7v2-adt", json=message).status_code == 401
    patient_only = secure.post("/$hl7v2-adt", json=message, headers=token("system/Patient.crus"))
    assert patient_only.status_code == 403
    assert "Encounter" in patient_only.json()["issue"][0]["diagnostics"]
    read_only = token("system/Patient.rs system/Encounter.rs")
    assert secure.post("/$hl7v2-adt", json=message, headers=read_only).status_code == 403
    allowed = token("system/Patient.crus system/Encounter.crus")
    response = secure.post("/$hl7v2-adt", json=message, headers=allowed)
    assert response.status_code == 200, response.text
    reader = token("system/*.rs")
    assert _count(secure, "Encounter", f"{VISIT_SYSTEM}|VT-OP-3", **reader) == 1
    # the write is in the PDL audit trail, under the caller
    audit = secure.get("/AuditEvent", params={"action": "C"}, headers=reader).json()
    assert any("Encounter/" in str(e["resource"].get("entity")) for e in audit.get("entry", []))


def _written(body: dict[str, Any]) -> list[str]:
    return [p["valueReference"]["reference"] for p in body["parameter"] if p["name"] == "written"]


def test_a_resent_message_writes_nothing_new(client: TestClient) -> None:
    message = _parameters(adt("A01", pnr=personnummer("19401016", "610"), visit="VT-OP-4"))
    first = client.post("/$hl7v2-adt", json=message).json()
    assert len(_written(first)) == 2
    again = client.post("/$hl7v2-adt", json=message).json()
    assert _value(again, "code") == "AA" and _written(again) == []
    assert "nothing changed" in _value(again, "outcome")["issue"][0]["diagnostics"]


def test_an_a08_without_a_known_stay_updates_the_patient_only(client: TestClient) -> None:
    pnr = personnummer("19401016", "628")
    update = adt("A08", pnr=pnr, visit="VT-OP-UNKNOWN", name="Nyström^Eva^^^^^L")
    response = client.post("/$hl7v2-adt", json=_parameters(update))
    assert response.status_code == 200, response.text
    assert [w.split("/")[0] for w in _written(response.json())] == ["Patient"]
    assert _count(client, "Encounter", f"{VISIT_SYSTEM}|VT-OP-UNKNOWN") == 0
    without_visit = adt("A08", pnr=pnr, visit="", name="Nyström^Eva Maria^^^^^L")
    response = client.post("/$hl7v2-adt", json=_parameters(without_visit))
    assert response.status_code == 200, response.text
    patient = client.get("/" + _written(response.json())[0].split("/_history")[0]).json()
    assert patient["name"][0]["given"] == ["Eva Maria"]


def test_a_visit_number_of_another_patient_is_refused(client: TestClient) -> None:
    first, second = personnummer("19401016", "636"), personnummer("19401016", "644")
    response = client.post("/$hl7v2-adt", json=_parameters(adt("A01", pnr=first, visit="VT-OP-5")))
    assert response.status_code == 200, response.text
    for event in ("A01", "A03"):
        if event == "A03":  # the second patient exists now, with a stay of their own
            own = adt("A01", pnr=second, visit="VT-OP-6")
            assert client.post("/$hl7v2-adt", json=_parameters(own)).status_code == 200
        message = adt(event, pnr=second, visit="VT-OP-5", discharged="202602181030")
        response = client.post("/$hl7v2-adt", json=_parameters(message))
        assert response.status_code == 422, response.text
        assert segments(_value(response.json(), "ack"))["ERR"][3].startswith("204^")
        assert "belongs to" in _value(response.json(), "outcome")["issue"][0]["diagnostics"]
        if event == "A01":  # the new patient of the refused admission was not kept
            assert _count(client, "Patient", f"{PERSONNUMMER}|{twelve(second)}") == 0
    stay = client.get("/Encounter", params={"identifier": f"{VISIT_SYSTEM}|VT-OP-5"}).json()
    assert stay["entry"][0]["resource"]["status"] == "in-progress"


def test_a_raw_body_in_its_declared_charset(client: TestClient) -> None:
    pnr = personnummer("19401016", "652")
    message = adt("A01", pnr=pnr, visit="VT-OP-7", name="Ågren^Örjan^^^^^L", charset="8859/1")
    response = client.post(
        "/$hl7v2-adt",
        content=message.encode("latin-1"),
        headers={"Content-Type": "text/plain; charset=ISO-8859-1"},
    )
    assert response.status_code == 200, response.text
    found = client.get("/Patient", params={"identifier": f"{PERSONNUMMER}|{twelve(pnr)}"}).json()
    assert found["entry"][0]["resource"]["name"][0]["family"] == "Ågren"


def test_the_operation_is_in_the_capability_statement_and_its_definition_published(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", insecure_no_auth=True)
    with TestClient(create_app(settings)) as published:
        rest = published.get("/metadata").json()["rest"][0]
        (listed,) = [o for o in rest.get("operation", []) if o["name"] == "hl7v2-adt"]
        url = "https://lus.example.se/fhir/OperationDefinition/hl7v2-adt"
        assert listed["definition"] == url
        found = published.get("/OperationDefinition", params={"url": url}).json()
        (definition,) = [e["resource"] for e in found["entry"]]
        assert definition["system"] is True and definition["affectsState"] is True
        assert {p["name"] for p in definition["parameter"]} == {
            "message",
            "code",
            "ack",
            "written",
            "outcome",
        }
