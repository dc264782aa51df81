"""The hemgångsklar checklist: the region's items from configuration; all done after the
utskrivningsklar notice makes the stay hemgangsklar; a withdrawal starts it again."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fhir_server.transitions import codes as c
from tests.transitions.conftest import KOMMUN, STAY, WARD, send, state

ITEMS = (
    "patient-informerad",
    "nasta-vardgivare-informerad",
    "hjalpmedel-pa-plats",
    "lakemedel-tillgangliga",
)


def _check(
    client: TestClient, *items: str, by: str = WARD, time: str = "2026-02-15T12:00:00+01:00"
) -> Any:
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "item", "valueCode": i} for i in items]
        + [
            {"name": "by", "valueReference": {"reference": by}},
            {"name": "time", "valueDateTime": time},
        ],
    }
    return client.post(f"/{STAY}/$hemgangsklar", json=body)


def _status(client: TestClient) -> dict[str, Any]:
    answer = client.get(f"/{STAY}/$hemgangsklar-status")
    assert answer.status_code == 200, answer.text
    out: dict[str, Any] = {}
    for parameter in answer.json()["parameter"]:
        if parameter["name"] == "item":
            parts = {p["name"]: p for p in parameter["part"]}
            out[parts["code"]["valueCode"]] = parts.get("done", {}).get("valueDateTime")
        else:
            out[parameter["name"]] = next(v for k, v in parameter.items() if k.startswith("value"))
    return out


def _ready(client: TestClient) -> None:
    send(
        client,
        c.INSKRIVNINGSMEDDELANDE,
        "2026-02-10T09:15:00+01:00",
        estimated="2026-02-16T12:00:00+01:00",
    )
    send(client, c.UTSKRIVNINGSKLAR, "2026-02-15T10:00:00+01:00")


def test_checklist_before_utskrivningsklar_is_refused(party_client: TestClient) -> None:
    send(
        party_client,
        c.INSKRIVNINGSMEDDELANDE,
        "2026-02-10T09:15:00+01:00",
        estimated="2026-02-16T12:00:00+01:00",
    )
    answer = _check(party_client, "patient-informerad")
    assert answer.status_code == 422
    assert "starts with the utskrivningsklar notice" in answer.json()["issue"][0]["diagnostics"]


def test_all_items_done_make_the_stay_hemgangsklar(party_client: TestClient) -> None:
    _ready(party_client)
    status = _status(party_client)
    # the ward's HSA-id (SE2321000081-…) puts the stay in Region Kalmar län: default list
    assert status["region"] == "Region Kalmar län"
    assert status["complete"] is False
    assert status["lakare-bedomt-utskrivningsklar"] is not None  # the notice did it
    assert all(status[i] is None for i in ITEMS)
    answer = _check(party_client, *ITEMS[:3])
    assert answer.status_code == 200, answer.text
    assert state(party_client) == c.STATE_UTSKRIVNINGSKLAR
    _check(party_client, ITEMS[3], by=KOMMUN)
    assert state(party_client) == c.HEMGANGSKLAR
    assert _status(party_client)["complete"] is True
    # the patient goes home: utskriven
    send(party_client, c.UTSKRIVNINGSMEDDELANDE, "2026-02-17T13:40:00+01:00")
    assert state(party_client) == c.UTSKRIVEN


def test_withdrawal_starts_the_checklist_again(party_client: TestClient) -> None:
    _ready(party_client)
    assert _check(party_client, *ITEMS).status_code == 200
    assert state(party_client) == c.HEMGANGSKLAR
    send(party_client, c.UTSKRIVNINGSKLAR_ATERKALLAD, "2026-02-15T20:00:00+01:00")
    assert state(party_client) == c.ATERKALLAD
    # the checklist is closed while the patient is not utskrivningsklar
    assert _check(party_client, ITEMS[0]).status_code == 422
    send(party_client, c.UTSKRIVNINGSKLAR, "2026-02-16T09:00:00+01:00")
    assert state(party_client) == c.STATE_UTSKRIVNINGSKLAR  # earlier checks do not count
    assert _status(party_client)["complete"] is False


def test_unknown_item_is_refused_and_changes_nothing(party_client: TestClient) -> None:
    _ready(party_client)
    before = party_client.get(f"/{STAY}").json()["meta"]["versionId"]
    answer = _check(party_client, "patient-informerad", "fika-uppdukat")
    assert answer.status_code == 400
    diagnostics = answer.json()["issue"][0]["diagnostics"]
    assert "'fika-uppdukat'" in diagnostics and "hjalpmedel-pa-plats" in diagnostics
    assert party_client.get(f"/{STAY}").json()["meta"]["versionId"] == before


def test_a_region_with_its_own_checklist(settings: Any, tmp_path: Any) -> None:
    from fhir_server.app import create_app
    from tests.support import lus

    rules = tmp_path / "rules.toml"
    rules.write_text(
        """
acknowledged = ["inskrivningsmeddelande"]
[deadlines]
kvittera = { hours = 4 }
[[hemgangsklar]]
code = "standard"
[regions.kalmar]
name = "Region Kalmar län"
organisationsnummer = ["2321000081"]
hemgangsklar = [
  { code = "lakare-bedomt-utskrivningsklar" },
  { code = "hemtjanst-startad", display = "Hemtjänst startad" },
]
""",
        encoding="utf-8",
    )
    configured = settings.model_copy(update={"lus_workflow_rules": rules})
    with TestClient(create_app(configured)) as client:
        parties = lus.transaction(
            lus.organization("ward", "slutenvard", hsa_id="SE2321000081-S000000012345"),
            lus.encounter("stay", "Patient/p1", ward=WARD),
        )
        assert client.post("/", json=parties).status_code == 200
        send(
            client,
            c.INSKRIVNINGSMEDDELANDE,
            "2026-02-10T09:15:00+01:00",
            patient="Patient/p1",
            recipients=(KOMMUN,),
        )
        kvittera = client.get("/Task?code=kvittera").json()["entry"][0]["resource"]
        assert kvittera["restriction"]["period"]["end"] == "2026-02-10T13:15:00+01:00"
        send(client, c.UTSKRIVNINGSKLAR, "2026-02-15T10:00:00+01:00", patient="Patient/p1")
        assert set(_status(client)) >= {"lakare-bedomt-utskrivningsklar", "hemtjanst-startad"}
        assert _check(client, "hemtjanst-startad").status_code == 200
        assert state(client) == c.HEMGANGSKLAR


def test_the_operations_are_defined_and_published(settings: Any) -> None:
    from fhir_server.app import create_app

    published = settings.model_copy(update={"publish_definitions": True})
    with TestClient(create_app(published)) as client:
        statement = client.get("/metadata").json()["rest"][0]
        encounter = next(r for r in statement["resource"] if r["type"] == "Encounter")
        offered = {o["name"]: o["definition"] for o in encounter.get("operation", [])}
        offered.update({o["name"]: o["definition"] for o in statement.get("operation", [])})
        for name in ("hemgangsklar", "hemgangsklar-status"):
            url = offered[name]
            found = client.get("/OperationDefinition", params={"url": url}).json()
            assert found["total"] == 1, url
            assert found["entry"][0]["resource"]["code"] == name
