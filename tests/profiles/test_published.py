"""Our definitions are resources of the server: searchable by url, stored once."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.definitions.content import CANONICAL_BASE

PATIENT_PROFILE = f"{CANONICAL_BASE}/StructureDefinition/lus-patient"
KOMMUN = "urn:oid:1.2.752.129.2.2.1.17"


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", insecure_no_auth=True)


def test_definitions_are_published_and_searchable(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as client:
        profile = client.get("/StructureDefinition", params={"url": PATIENT_PROFILE}).json()
        assert profile["total"] == 1
        assert profile["entry"][0]["resource"]["type"] == "Patient"
        kommun = client.get("/CodeSystem", params={"url": KOMMUN}).json()
        assert kommun["total"] == 1
        assert len(kommun["entry"][0]["resource"]["concept"]) == 290
        params = client.get("/SearchParameter", params={"base": "Encounter"}).json()
        codes = {e["resource"]["code"] for e in params.get("entry", [])}
        assert {"utskrivningsklar", "estimated-discharge", "lus-state"} <= codes
        topics = client.get("/Basic", params={"code": "SubscriptionTopic"}).json()
        assert topics["total"] == 5
        # examples are examples, not definitions
        assert client.get("/Patient").json()["total"] == 0


def test_a_restart_does_not_make_new_versions(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        first = client.get("/StructureDefinition", params={"url": PATIENT_PROFILE}).json()
    with TestClient(create_app(settings)) as client:
        again = client.get("/StructureDefinition", params={"url": PATIENT_PROFILE}).json()
        history = client.get("/StructureDefinition/_history").json()
    assert again["entry"][0]["resource"]["meta"] == first["entry"][0]["resource"]["meta"]
    assert again["entry"][0]["resource"]["meta"]["versionId"] == "1"
    assert all(e["resource"]["meta"]["versionId"] == "1" for e in history["entry"])


def test_capability_statement_offers_our_topics(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as client:
        resources = client.get("/metadata").json()["rest"][0]["resource"]
    subscription = next(r for r in resources if r["type"] == "Subscription")
    assert subscription["supportedProfile"] == [
        "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"
    ]
    topics = {e["valueCanonical"] for e in subscription["extension"]}
    assert len(topics) == 5
    assert all(url.startswith(f"{CANONICAL_BASE}/") for url in topics)
    operations = {op["name"] for op in subscription["operation"]}
    assert {"status", "events", "get-ws-binding-token"} <= operations
