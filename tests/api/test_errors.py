"""Bad input: a clear OperationOutcome with the right status, and nothing stored."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.api.test_crud import patient


def _history_total(client: TestClient) -> int:
    return int(client.get("/_history").json().get("total", 0))


def test_invalid_resource_names_the_element_and_stores_nothing(client: TestClient) -> None:
    bad = patient(birthDate="1912-13-45", gender="unknown-gender")
    bad["name"][0]["given"] = [""]
    response = client.post("/Patient", json=bad)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = {e for issue in outcome["issue"] for e in issue.get("expression", [])}
    assert {"Patient.birthDate", "Patient.gender", "Patient.name[0].given[0]"} <= expressions
    assert _history_total(client) == 0


def test_unknown_element_is_rejected(client: TestClient) -> None:
    response = client.post("/Patient", json=patient(favouriteColour="blue"))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.favouriteColour"]
    assert _history_total(client) == 0


def test_empty_values_are_rejected(client: TestClient) -> None:
    for bad in (patient(address=[]), patient(contact=[{}]), patient(gender=None)):
        assert client.post("/Patient", json=bad).status_code == 400
    assert _history_total(client) == 0


def test_unparseable_json(client: TestClient) -> None:
    response = client.post(
        "/Patient", content=b"{not json", headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["issue"][0]["diagnostics"]


def test_xml_is_refused(client: TestClient) -> None:
    response = client.post(
        "/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get("/metadata", headers={"Accept": "application/fhir+xml"}).status_code == 406
    assert client.get("/metadata?_format=xml").status_code == 406


def test_json_media_types(client: TestClient) -> None:
    plain = client.get("/metadata", headers={"Accept": "application/json"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")
    fhir = client.get("/metadata?_format=json")
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    pretty = client.get("/metadata?_pretty=true")
    assert b"\n  " in pretty.content
    created = client.post("/Patient", json=patient(), headers={"Content-Type": "application/json"})
    assert created.status_code == 201


def test_body_too_large(client: TestClient) -> None:
    big = patient(name=[{"family": "x" * 1_100_000}])
    response = client.post("/Patient", json=big)
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"
    assert _history_total(client) == 0


def test_method_not_allowed(client: TestClient) -> None:
    response = client.post("/Patient/p1", json=patient())
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


def test_bad_if_match(client: TestClient) -> None:
    response = client.put("/Patient/p1", json=patient(id="p1"), headers={"If-Match": "abc"})
    assert response.status_code == 400


def test_invalid_id_in_url(client: TestClient) -> None:
    response = client.put("/Patient/bad_id!", json=patient(id="bad_id!"))
    assert response.status_code == 400


def test_unexpected_exception_becomes_500_outcome(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_server.rest import routes

    async def boom(request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(routes._METADATA, "GET", boom)
    response = client.get("/metadata")
    assert response.status_code == 500
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "fatal"
    assert "boom" not in outcome["issue"][0]["diagnostics"]  # no internals leak
    assert client.get("/Patient/x").status_code == 404  # and the server goes on
