"""With security on, notification payloads leave out the address and telecom of a person
with protected identity (skyddad folkbokföring / sekretessmarkering), as REST reads do: in
full-resource notifications, in a classic subscription's payload, and in `$events` unless
the caller holds the `protected-identity` scope."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.auth.policy import SUBSETTED
from fhir_server.config import Settings
from tests.subscriptions.receiver import Receiver, receiver
from tests.subscriptions.topics import classic_subscription, subscription, topic
from tests.support.smart import bearer, server_token

BASE = "http://fhir.test/fhir"
PATIENT_TOPIC = "http://example.org/fhir/SubscriptionTopic/test-patient"
PROTECTED = {"system": "urn:oid:1.2.752.129.2.2.3.1", "code": "skyddadFolkbokforing"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        base_url=BASE,
        subscription_endpoint_hosts=["127.0.0.1"],
        subscription_retry_base=0.05,
        subscription_retry_max=0.3,
        subscription_timeout=2.0,
        insecure_no_auth=False,
    )


@pytest.fixture
def secure(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://fhir.test") as client:
        yield client


@pytest.fixture
def classic_hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _token(settings: Settings, scopes: str) -> dict[str, str]:
    return bearer(server_token(settings.data_dir, scopes, base=BASE, subject="owner"))


def _person(family: str, protected: bool) -> dict[str, Any]:
    person: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"family": family}],
        "gender": "female",
        "address": [{"line": ["Hemliga gatan 1" if protected else "Storgatan 2"], "city": "Solna"}],
        "telecom": [{"system": "phone", "value": "070-1234567" if protected else "08-123456"}],
        "contact": [{"name": {"family": "Anhörig"}, "telecom": [{"value": "070-7654321"}]}],
    }
    if protected:
        person["meta"] = {"security": [PROTECTED]}
    return person


def _patients(bundles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        e["resource"]["name"][0]["family"]: e["resource"]
        for b in bundles
        for e in b.get("entry", [])[1:]
        if e.get("resource", {}).get("resourceType") == "Patient"
    }


def _assert_redacted(patient: dict[str, Any]) -> None:
    assert "address" not in patient and "telecom" not in patient
    assert all("telecom" not in contact for contact in patient.get("contact", []))
    assert SUBSETTED in patient["meta"]["security"]
    assert "Hemliga" not in str(patient) and "070-" not in str(patient)


def test_protected_identity_is_left_out_of_notifications(
    secure: TestClient, settings: Settings, hook: Receiver, classic_hook: Receiver
) -> None:
    admin = _token(settings, "system/*.cruds")
    patient_topic = {**topic(PATIENT_TOPIC, "Patient", ["create", "update"], []), "id": "tp"}
    assert secure.put("/Basic/tp", json=patient_topic, headers=admin).is_success
    # the owner's token even holds the scope: a subscription does not keep it (fail closed)
    owner = _token(settings, "system/*.cruds protected-identity")
    created = secure.post(
        "/Subscription", json=subscription(PATIENT_TOPIC, hook.url, "full-resource"), headers=owner
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    classic = classic_subscription("Patient?gender=female", classic_hook.url)
    assert secure.post("/Subscription", json=classic, headers=owner).status_code == 201
    hook.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
    time.sleep(0.3)  # the classic subscription active too (it has no handshake)

    secret = secure.post("/Patient", json=_person("Skyddad", True), headers=admin).json()
    secure.post("/Patient", json=_person("Öppen", False), headers=admin)
    hook.wait_for(lambda r: len(_patients(r.bundles())) >= 2, what="both patients")
    delivered = _patients(hook.bundles())
    _assert_redacted(delivered["Skyddad"])
    assert delivered["Öppen"]["address"][0]["city"] == "Solna"
    assert delivered["Öppen"]["telecom"][0]["value"] == "08-123456"

    classic_hook.wait_for(lambda r: len(r.received) >= 2, what="two classic payloads")
    by_family = {r.json()["name"][0]["family"]: r.json() for r in classic_hook.received}
    _assert_redacted(by_family["Skyddad"])
    assert by_family["Öppen"]["telecom"][0]["value"] == "08-123456"

    # an update is redacted as well
    changed = {**_person("Skyddad", True), "id": secret["id"], "active": True}
    assert secure.put(f"/Patient/{secret['id']}", json=changed, headers=admin).status_code == 200
    hook.wait_for(lambda r: len(r.events()) >= 3, what="the update")
    assert "Hemliga" not in str(hook.bundles()) and "Hemliga" not in str(
        [r.body for r in classic_hook.received]
    )

    # $events: by the caller's own scope
    replay = {"eventsSinceNumber": "1", "content": "full-resource"}
    plain = secure.get(
        f"/Subscription/{sid}/$events",
        params=replay,
        headers=_token(settings, "system/Subscription.rs system/Patient.rs"),
    )
    assert plain.status_code == 200, plain.text
    replayed = _patients([plain.json()])
    _assert_redacted(replayed["Skyddad"])
    assert replayed["Öppen"]["address"][0]["city"] == "Solna"
    allowed = secure.get(
        f"/Subscription/{sid}/$events",
        params=replay,
        headers=_token(settings, "system/Subscription.rs system/Patient.rs protected-identity"),
    )
    shown = _patients([allowed.json()])["Skyddad"]
    assert shown["address"][0]["line"] == ["Hemliga gatan 1"]
    assert SUBSETTED not in shown["meta"]["security"]
    # the stored resource is untouched
    stored = secure.get(
        f"/Patient/{secret['id']}", headers=_token(settings, "system/*.cruds protected-identity")
    )
    assert stored.json()["telecom"][0]["value"] == "070-1234567"
