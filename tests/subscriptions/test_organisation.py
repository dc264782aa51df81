"""With security on, a subscription tells its owner only of changes it could read: the
owner's organisation narrows notifications as it narrows searches (auth/policy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.subscriptions.receiver import Receiver, status_of
from tests.subscriptions.topics import COMMUNICATION_TOPIC, communication_topic, subscription
from tests.support import postgres
from tests.support.smart import bearer, server_token

BASE = "http://fhir.test/fhir"
KOMMUNKOD = "urn:oid:1.2.752.129.2.2.1.17"
SOLNA, STOCKHOLM = "0184", "0180"


@pytest.fixture
def secure_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database = postgres.store_for_test(request)
    return Settings(
        **database,
        data_dir=tmp_path / "data",
        base_url=BASE,
        subscription_endpoint_hosts=["127.0.0.1"],
        subscription_retry_base=0.05,
        subscription_retry_max=0.3,
        subscription_timeout=2.0,
        insecure_no_auth=False,
    )


@pytest.fixture
def secure(secure_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secure_settings), base_url="http://fhir.test") as client:
        yield client


def _token(settings: Settings, scopes: str, organisation: str | None = None) -> dict[str, str]:
    return bearer(
        server_token(settings.data_dir, scopes, organisation, base=BASE, subject="kommun")
    )


def _notice(patient: str, recipient: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "recipient": [recipient],
        "payload": [{"contentString": text}],
    }


def test_notifications_only_of_what_the_owner_may_read(
    secure: TestClient, secure_settings: Settings, hook: Receiver
) -> None:
    admin = _token(secure_settings, "system/*.cruds")
    topic = {**communication_topic(), "id": "test-communication"}
    assert secure.put("/Basic/test-communication", json=topic, headers=admin).is_success
    solna = secure.post(
        "/Organization",
        json={
            "resourceType": "Organization",
            "identifier": [{"system": KOMMUNKOD, "value": SOLNA}],
        },
        headers=admin,
    ).json()["id"]
    patient = secure.post("/Patient", json={"resourceType": "Patient"}, headers=admin).json()["id"]
    kommun = _token(secure_settings, "system/*.cruds", organisation=SOLNA)
    created = secure.post(
        "/Subscription", json=subscription(COMMUNICATION_TOPIC, hook.url, "full-resource"),
        headers=kommun,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")

    secret = _notice(patient, {"identifier": {"system": KOMMUNKOD, "value": STOCKHOLM}}, "hemlig")
    assert secure.post("/Communication", json=secret, headers=admin).status_code == 201
    mine = [
        _notice(patient, {"reference": f"Organization/{solna}"}, "till solna"),
        _notice(patient, {"identifier": {"system": KOMMUNKOD, "value": SOLNA}}, "logisk"),
    ]
    ids = [secure.post("/Communication", json=m, headers=admin).json()["id"] for m in mine]
    hook.wait_for(lambda r: len(r.events()) >= 2, what="2 events")
    # a marker after them all: once it arrives, an event for the secret one would have too
    marker = _notice(patient, {"reference": f"Organization/{solna}"}, "sist")
    ids.append(secure.post("/Communication", json=marker, headers=admin).json()["id"])
    hook.wait_for(lambda r: len(r.events()) >= 3, what="the marker")
    assert hook.events() == [1, 2, 3]
    delivered = [
        e["resource"]["id"]
        for b in hook.bundles()
        for e in b.get("entry", [])[1:]
        if e.get("resource", {}).get("resourceType") == "Communication"
    ]
    assert delivered == ids
    assert "hemlig" not in str(hook.bundles())
    assert status_of(hook.bundles()[-1])["events-since-subscription-start"] == "3"
