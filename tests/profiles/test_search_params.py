"""Our SearchParameters (profiles/) are indexed, searched and advertised like the core's."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.definitions import load_definitions
from fhir_server.definitions.content import CANONICAL_BASE, search_parameters
from fhir_server.transitions.codes import (
    BERAKNAD_UTSKRIVNING_ANDRAD,
    INSKRIVNINGSMEDDELANDE,
    UTSKRIVNINGSKLAR,
    UTSKRIVNINGSKLAR_ATERKALLAD,
)
from tests.support import lus


def _stay(
    rid: str, estimated: str, ready: str | None, withdrawn: bool = False
) -> list[dict[str, Any]]:
    """A stay and the notices that give it its state (the server keeps the state)."""
    stay = f"Encounter/{rid}"
    resources = [
        lus.encounter(rid),
        lus.notice(INSKRIVNINGSMEDDELANDE, stay, "2025-12-29T11:00:00+01:00", estimated=estimated),
    ]
    if ready is not None:
        resources.append(lus.notice(UTSKRIVNINGSKLAR, stay, ready))
    return resources


def _ids(bundle: dict[str, Any]) -> list[str]:
    return sorted(e["resource"]["id"] for e in bundle.get("entry", []))


def test_every_parameter_of_ours_is_in_the_definitions() -> None:
    definitions = load_definitions()
    ours = search_parameters()
    assert len(ours) >= 9
    for sp in ours:
        assert sp["url"].startswith(f"{CANONICAL_BASE}/SearchParameter/")
        for base in sp["base"]:
            assert definitions.search_params_for(base)[sp["code"]]["url"] == sp["url"]
        assert definitions.resource_by_url(sp["url"]) == sp


@pytest.fixture
def stays(client: TestClient) -> TestClient:
    for resources in (
        _stay("e1", "2026-01-05T12:00:00+01:00", None),
        _stay("e2", "2026-01-03T12:00:00+01:00", "2026-01-03T09:30:00+01:00"),
        _stay("e3", "2025-12-30T12:00:00+01:00", "2025-12-31T16:00:00+01:00"),
    ):
        answer = client.post("/", json=lus.transaction(*resources))
        assert answer.status_code == 200, answer.text
    return client


def test_search_by_extension_dates(stays: TestClient) -> None:
    found = stays.get("/Encounter", params={"utskrivningsklar": "ge2026-01-01"})
    assert found.status_code == 200, found.text
    assert _ids(found.json()) == ["e2"]
    assert _ids(stays.get("/Encounter?utskrivningsklar=lt2026-01-01").json()) == ["e3"]
    late = stays.get("/Encounter", params={"estimated-discharge": "gt2026-01-04"}).json()
    assert _ids(late) == ["e1"]
    ready = stays.get("/Encounter?estimated-discharge=ge2026-01-01&utskrivningsklar=le2026-01-04")
    assert _ids(ready.json()) == ["e2"]


def test_search_by_state_and_care_type(stays: TestClient) -> None:
    system = f"{CANONICAL_BASE}/CodeSystem/lus-state"
    assert _ids(stays.get("/Encounter?lus-state=utskrivningsklar").json()) == ["e2", "e3"]
    assert _ids(stays.get("/Encounter", params={"lus-state": f"{system}|planering"}).json()) == [
        "e1"
    ]
    assert _ids(stays.get("/Encounter?lus-state:not=planering").json()) == ["e2", "e3"]
    assert len(_ids(stays.get("/Encounter?care-type=somatisk").json())) == 3
    assert _ids(stays.get("/Encounter?care-type=psykiatrisk").json()) == []


def test_changed_extension_is_reindexed(stays: TestClient) -> None:
    found = stays.get("/Communication?encounter=Encounter/e2&category=utskrivningsklar").json()
    ready = f"Communication/{found['entry'][0]['resource']['id']}"
    sent = "2026-01-04T08:00:00+01:00"
    estimate = "2026-01-06T12:00:00+01:00"
    for notice in (
        lus.notice(UTSKRIVNINGSKLAR_ATERKALLAD, "Encounter/e2", sent, withdrawn=ready),
        lus.notice(BERAKNAD_UTSKRIVNING_ANDRAD, "Encounter/e2", sent, estimated=estimate),
    ):
        answer = stays.post("/Communication", json=notice)
        assert answer.status_code == 201, answer.text
    assert _ids(stays.get("/Encounter?utskrivningsklar=ge2026-01-01").json()) == []
    assert _ids(stays.get("/Encounter?lus-state=aterkallad").json()) == ["e2"]


def test_capability_statement_lists_ours(client: TestClient) -> None:
    rest = client.get("/metadata").json()["rest"][0]
    by_type = {
        r["type"]: {p["name"]: p for p in r.get("searchParam", [])} for r in rest["resource"]
    }
    for sp in search_parameters():
        for base in sp["base"]:
            listed = by_type[base][sp["code"]]
            assert listed["definition"] == sp["url"] and listed["type"] == sp["type"]
    assert "utskrivningsklar" in by_type["Encounter"]
