"""The reports with security on: the scopes they need, and a municipality sees its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.transitions import codes as c
from tests.reports.test_report_operations import load_stay, municipality
from tests.support.smart import bearer, server_token

READS = "system/Encounter.rs system/Communication.rs system/Task.rs system/Organization.rs"


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = Settings(data_dir=tmp_path / "data", insecure_no_auth=False)
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        client.headers.update(bearer(server_token(settings.data_dir, "system/*.cruds")))
        yield client, settings.data_dir


def test_the_reports_need_search_on_stays_notices_and_tasks(
    secure: tuple[TestClient, Path],
) -> None:
    client, data_dir = secure
    params = {"month": "2022-02"}
    no_notices = bearer(server_token(data_dir, "system/Encounter.rs system/Task.rs"))
    answer = client.get("/$utskrivningsklara-dagar", params=params, headers=no_notices)
    assert answer.status_code == 403
    assert "Communication" in answer.json()["issue"][0]["diagnostics"]
    allowed = bearer(server_token(data_dir, READS))
    assert client.get("/$betalningsansvar", params=params, headers=allowed).status_code == 200
    unauthenticated = client.get("/$betalningsansvar", params=params, headers={"Authorization": ""})
    assert unauthenticated.status_code == 401


def test_a_municipality_sees_only_the_stays_it_was_notified_of(
    secure: tuple[TestClient, Path],
) -> None:
    client, data_dir = secure
    kalmar, stockholm = municipality(client, "0880"), municipality(client, "0180")
    # Kalmar: 1 → 5 Feb (4 days); Stockholm: 1 → 8 Feb (7 days)
    load_stay(
        client,
        kalmar,
        "0880",
        ready=["2022-02-01T09:00:00+01:00"],
        discharged="2022-02-05T09:00:00+01:00",
    )
    load_stay(
        client,
        stockholm,
        "0180",
        ready=["2022-02-01T09:00:00+01:00"],
        discharged="2022-02-08T09:00:00+01:00",
    )
    admin = client.get("/$utskrivningsklara-dagar", params={"month": "2022-02"}).json()
    assert admin["group"][0]["measureScore"]["value"] == 11
    as_kalmar = bearer(server_token(data_dir, READS, organisation="0880"))
    mine = client.get(
        "/$utskrivningsklara-dagar", params={"month": "2022-02"}, headers=as_kalmar
    ).json()
    assert mine["group"][0]["measureScore"]["value"] == 4
    stratum = mine["group"][0]["stratifier"][0]["stratum"][0]
    assert stratum["value"]["coding"][0]["code"] == c.SOMATISK
