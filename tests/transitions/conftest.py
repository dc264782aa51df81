"""A server in process with a hospital ward, a municipality, a primary-care unit and a
patient registered in Kalmar and listed at the unit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.transitions import codes as c
from tests.support import lus

WARD = "Organization/ward"
KOMMUN = "Organization/kalmar-kommun"
VC = "Organization/vc-centrum"
PATIENT = "Patient/tolvan"
STAY = "Encounter/stay"


@pytest.fixture
def fast_clocks(settings: Settings) -> Settings:
    return settings.model_copy(update={"lus_clock_interval": 0.2})


def _with_parties(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        parties = lus.transaction(
            lus.organization("ward", "slutenvard", hsa_id="SE2321000081-S000000012345"),
            lus.organization("kalmar-kommun", "kommun", kommunkod="0880"),
            lus.organization("vc-centrum", "primarvard", hsa_id="SE2321000081-P000000067890"),
            lus.patient("tolvan", "191212121212", kommunkod="0880", listed_at=VC),
            lus.encounter("stay", PATIENT, ward=WARD, start="2026-02-09T14:20:00+01:00"),
        )
        answer = client.post("/", json=parties)
        assert answer.status_code == 200, answer.text
        yield client


@pytest.fixture
def party_client(settings: Settings) -> Iterator[TestClient]:
    """The parties, with the clocks looking only at start (the notices here are sent in
    the past: their deadlines have passed by the real clock)."""
    yield from _with_parties(settings.model_copy(update={"lus_clock_interval": 3600.0}))


@pytest.fixture
def clock_client(fast_clocks: Settings) -> Iterator[TestClient]:
    """The parties, with the clocks looking five times a second."""
    yield from _with_parties(fast_clocks)


def send(client: TestClient, code: str, sent: str, **extra: Any) -> dict[str, Any]:
    """POST a notice about the stay; the stored notice."""
    extra.setdefault("patient", PATIENT)
    if code in HOSPITAL:
        extra.setdefault("sender", WARD)
    else:
        extra.setdefault("recipients", (WARD,))
    if code == c.UTSKRIVNINGSKLAR_ATERKALLAD and "withdrawn" not in extra:
        extra["withdrawn"] = latest(client, c.UTSKRIVNINGSKLAR)
    answer = client.post("/Communication", json=lus.notice(code, STAY, sent, **extra))
    assert answer.status_code == 201, answer.text
    stored: dict[str, Any] = answer.json()
    return stored


def latest(client: TestClient, code: str, stay: str = STAY) -> str:
    """The stay's notice of a type sent last."""
    query = f"/Communication?encounter={stay}&category={c.NOTICE_TYPE}|{code}&_sort=-sent"
    found = client.get(query).json()
    return f"Communication/{found['entry'][0]['resource']['id']}"


HOSPITAL = {
    c.INSKRIVNINGSMEDDELANDE,
    c.BERAKNAD_UTSKRIVNING_ANDRAD,
    c.PLANERINGSUNDERLAG,
    c.UTSKRIVNINGSKLAR,
    c.UTSKRIVNINGSKLAR_ATERKALLAD,
    c.UTSKRIVNINGSMEDDELANDE,
}


def tasks_of(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    bundle = client.get(f"/Task?encounter={STAY}&_count=200{query}").json()
    return [e["resource"] for e in bundle.get("entry", [])]


def kind(task: dict[str, Any]) -> str:
    return str(task["code"]["coding"][0]["code"])


def by_owner(tasks: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(kind(t), t["owner"]["reference"], t["status"]) for t in tasks}


def stay(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/{STAY}").json()
    return found


def state(client: TestClient, ref: str = STAY) -> str | None:
    for extension in client.get(f"/{ref}").json().get("extension", []):
        if extension["url"].endswith("/lus-state"):
            return str(extension["valueCoding"]["code"])
    return None
