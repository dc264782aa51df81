"""The ward's ADT feed drives the stay's LUS state with the notices: A01 admits (inskriven),
A03 discharges (utskriven, and asks for the discharge notice), A13 takes the discharge back,
A11 cancels the admission (makulerad, open Tasks cancelled)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fhir_server.transitions import codes as c
from tests.mappings.messages import VISIT_SYSTEM, WARD_MED, adt
from tests.support import lus

VISIT = "VT-2026-004711"


def _feed(client: TestClient, event: str, **fields: Any) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "message", "valueString": adt(event, visit=VISIT, **fields)}],
    }
    answer = client.post("/$hl7v2-adt", json=body)
    assert answer.status_code == 200, answer.text


def _stay(client: TestClient) -> dict[str, Any]:
    found = client.get("/Encounter", params={"identifier": f"{VISIT_SYSTEM}|{VISIT}"}).json()
    (entry,) = found["entry"]
    stay: dict[str, Any] = entry["resource"]
    return stay


def _state(stay: dict[str, Any]) -> str:
    return next(
        e["valueCoding"]["code"] for e in stay["extension"] if e["url"].endswith("/lus-state")
    )


def _tasks(client: TestClient, stay: str, code: str) -> list[dict[str, Any]]:
    found = client.get("/Task", params={"encounter": stay, "code": code}).json()
    return [e["resource"] for e in found.get("entry", [])]


def test_adt_events_and_notices_make_the_state_together(client: TestClient) -> None:
    parties = lus.transaction(
        lus.organization("ward", "slutenvard", hsa_id=WARD_MED),
        lus.organization("kalmar-kommun", "kommun", kommunkod="0880"),
    )
    assert client.post("/", json=parties).status_code == 200
    _feed(client, "A01")
    stay = _stay(client)
    ref = f"Encounter/{stay['id']}"
    assert _state(stay) == c.INSKRIVEN
    assert stay["serviceProvider"]["reference"] == "Organization/ward"
    notice = lus.notice(
        c.INSKRIVNINGSMEDDELANDE,
        ref,
        "2026-02-10T09:15:00+01:00",
        patient=stay["subject"]["reference"],
        recipients=("Organization/kalmar-kommun",),
    )
    assert client.post("/Communication", json=notice).status_code == 201
    assert _state(_stay(client)) == c.PLANERING
    # the ward discharges in the PAS without an utskrivningsmeddelande
    _feed(client, "A03", discharged="202602171340")
    stay = _stay(client)
    assert (stay["status"], _state(stay)) == ("finished", c.UTSKRIVEN)
    (asked,) = _tasks(client, ref, c.SKICKA_UTSKRIVNINGSMEDDELANDE)
    assert asked["owner"]["reference"] == "Organization/ward"
    assert asked["restriction"]["period"]["end"] == "2026-02-17T23:59:59+01:00"
    # the discharge was a mistake
    _feed(client, "A13")
    stay = _stay(client)
    assert (stay["status"], _state(stay)) == ("in-progress", c.PLANERING)
    assert [t["status"] for t in _tasks(client, ref, c.SKICKA_UTSKRIVNINGSMEDDELANDE)] == [
        "cancelled"
    ]
    # and so was the admission: the stay is makulerad, every open Task cancelled
    _feed(client, "A11")
    stay = _stay(client)
    assert (stay["status"], _state(stay)) == ("entered-in-error", c.MAKULERAD)
    open_tasks = client.get("/Task", params={"encounter": ref, "status": "requested"}).json()
    assert open_tasks.get("entry", []) == []
    kvittera = _tasks(client, ref, c.KVITTERA)
    assert [t["status"] for t in kvittera] == ["cancelled"]
