"""The LUS workflow under security: a ward posting a notice needs only the scopes for the
notice (the Tasks and the stay's state are the server's work, in the same transaction), and
each receiving organisation sees its own Tasks and not the others'."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fhir_server.transitions import codes as c
from tests.support import lus

WARD_HSA = "SE2321000081-S000000012345"
VC_HSA = "SE2321000081-P000000067890"


def _setup(secure: TestClient, token_for: Any) -> None:
    admin = token_for("system/*.cruds")
    bundle = lus.transaction(
        lus.organization("ward", "slutenvard", hsa_id=WARD_HSA),
        lus.organization("kalmar-kommun", "kommun", kommunkod="0880"),
        lus.organization("nybro-kommun", "kommun", kommunkod="0881"),
        lus.organization("vc", "primarvard", hsa_id=VC_HSA),
        lus.patient("p1", "191212121212", kommunkod="0880", listed_at="Organization/vc"),
        lus.encounter("stay", "Patient/p1", ward="Organization/ward"),
    )
    answer = secure.post("/", json=bundle, headers=admin)
    assert answer.status_code == 200, answer.text


def test_ward_sends_a_notice_with_notice_scopes_only(secure: TestClient, token_for: Any) -> None:
    _setup(secure, token_for)
    ward = token_for(
        "system/Communication.cru system/Encounter.r system/Patient.r system/Organization.r",
        organisation=WARD_HSA,
    )
    notice = lus.notice(
        c.INSKRIVNINGSMEDDELANDE,
        "Encounter/stay",
        "2026-02-10T09:15:00+01:00",
        sender="Organization/ward",
        estimated="2026-02-16T12:00:00+01:00",
    )
    answer = secure.post("/Communication", json=notice, headers=ward)
    assert answer.status_code == 201, answer.text
    kommun = token_for("system/Task.rs system/Communication.rs", organisation="0880")
    own = secure.get("/Task", headers=kommun).json()
    kinds = sorted(e["resource"]["code"]["coding"][0]["code"] for e in own.get("entry", []))
    assert kinds == [c.KVITTERA, c.PABORJA_PLANERING]
    assert {e["resource"]["owner"]["reference"] for e in own["entry"]} == {
        "Organization/kalmar-kommun"
    }
    assert (
        secure.get("/Communication", headers=kommun).json()["entry"][0]["resource"]["id"]
        == (answer.json()["id"])
    )
    # another municipality sees nothing of it
    nybro = token_for("system/Task.rs system/Communication.rs", organisation="0881")
    assert secure.get("/Task", headers=nybro).json().get("entry", []) == []
    assert secure.get("/Communication", headers=nybro).json().get("entry", []) == []


def test_a_refused_notice_leaves_no_trace(secure: TestClient, token_for: Any) -> None:
    _setup(secure, token_for)
    ward = token_for("system/Communication.cru system/Encounter.r", organisation=WARD_HSA)
    early = lus.notice(
        c.UTSKRIVNINGSKLAR,
        "Encounter/stay",
        "2026-02-10T09:15:00+01:00",
        sender="Organization/ward",
    )
    answer = secure.post("/Communication", json=early, headers=ward)
    assert answer.status_code == 422
    admin = token_for("system/*.cruds")
    assert secure.get("/Communication", headers=admin).json().get("entry", []) == []
    assert secure.get("/Task", headers=admin).json().get("entry", []) == []


def test_a_deletion_does_not_reveal_that_another_units_resource_existed(
    secure: TestClient, token_for: Any
) -> None:
    admin = token_for("system/*.cruds")
    _setup(secure, token_for)
    ids = {}
    for owner in ("kalmar-kommun", "nybro-kommun"):
        task = {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": "Patient/p1"},
            "owner": {"reference": f"Organization/{owner}"},
        }
        ids[owner] = secure.post("/Task", json=task, headers=admin).json()["id"]
        assert secure.delete(f"/Task/{ids[owner]}", headers=admin).status_code == 204
    kommun = token_for("system/Task.rs", organisation="0880")
    assert secure.get(f"/Task/{ids['kalmar-kommun']}", headers=kommun).status_code == 410
    other = secure.get(f"/Task/{ids['nybro-kommun']}", headers=kommun)
    assert other.status_code == 404
    never = secure.get("/Task/never-was", headers=kommun).json()["issue"][0]["diagnostics"]
    # the same answer as for an id that never existed
    assert other.json()["issue"][0]["diagnostics"] == never.replace(
        "never-was", ids["nybro-kommun"]
    )
    history = secure.get(f"/Task/{ids['nybro-kommun']}/_history", headers=kommun)
    assert history.status_code == 404 or history.json().get("entry", []) == []
    own_history = secure.get(f"/Task/{ids['kalmar-kommun']}/_history", headers=kommun).json()
    assert len(own_history["entry"]) == 2
