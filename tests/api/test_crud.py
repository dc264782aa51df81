"""create, read, vread, update, delete through HTTP (in process)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

FHIR = "application/fhir+json"


def patient(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [
            {
                "system": "http://electronichealth.se/identifier/personnummer",
                "value": "191212121212",
            }
        ],
        "name": [{"family": "Åkesson", "given": ["Åsa"]}],
        "gender": "female",
        "birthDate": "1912-12-12",
    }
    body.update(extra)
    return body


def create(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/Patient", json=body, headers={"Content-Type": FHIR, **headers})


def test_create_assigns_id_and_returns_headers(client: TestClient) -> None:
    response = create(client, patient(id="client-chosen"))
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"  # an id in a POST body is ignored
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith(FHIR)
    assert "last-modified" in response.headers
    read = client.get(f"/Patient/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == 'W/"1"'


def test_read_unknown_id_and_unknown_type(client: TestClient) -> None:
    response = client.get("/Patient/does-not-exist")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    response = client.get("/Patiend/1")
    assert response.status_code == 404
    assert "Patiend" in response.json()["issue"][0]["diagnostics"]


def test_update_creates_versions_and_vread(client: TestClient) -> None:
    first = client.put("/Patient/p1", json=patient(id="p1"))
    assert first.status_code == 201
    second = client.put("/Patient/p1", json=patient(id="p1", gender="male"))
    assert second.status_code == 200
    assert second.json()["meta"]["versionId"] == "2"
    v1 = client.get("/Patient/p1/_history/1")
    assert v1.status_code == 200 and v1.json()["gender"] == "female"
    v2 = client.get("/Patient/p1/_history/2")
    assert v2.json()["gender"] == "male"
    assert client.get("/Patient/p1/_history/3").status_code == 404


def test_update_requires_matching_id(client: TestClient) -> None:
    assert client.put("/Patient/p1", json=patient()).status_code == 400
    response = client.put("/Patient/p1", json=patient(id="p2"))
    assert response.status_code == 400
    assert client.get("/Patient/p1").status_code == 404
    assert client.get("/Patient/p2").status_code == 404


def test_resource_type_must_match_url(client: TestClient) -> None:
    response = client.post("/Observation", json=patient())
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["resourceType"]


def test_if_match(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    stale = client.put(
        "/Patient/p1", json=patient(id="p1", gender="male"), headers={"If-Match": 'W/"2"'}
    )
    assert stale.status_code == 412
    assert client.get("/Patient/p1").json()["gender"] == "female"
    ok = client.put(
        "/Patient/p1", json=patient(id="p1", gender="male"), headers={"If-Match": 'W/"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == 'W/"2"'


def test_delete_is_logical(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    deleted = client.delete("/Patient/p1")
    assert deleted.status_code == 204
    gone = client.get("/Patient/p1")
    assert gone.status_code == 410
    assert gone.json()["resourceType"] == "OperationOutcome"
    assert client.get("/Patient/p1/_history/1").status_code == 200
    history = client.get("/Patient/p1/_history").json()
    assert history["total"] == 2
    assert history["entry"][0]["request"]["method"] == "DELETE"
    assert "resource" not in history["entry"][0]
    # deleting again changes nothing
    assert client.delete("/Patient/p1").status_code == 204
    assert client.get("/Patient/p1/_history").json()["total"] == 2
    # an update brings it back as a new version
    back = client.put("/Patient/p1", json=patient(id="p1"))
    assert back.status_code == 201
    assert back.json()["meta"]["versionId"] == "3"


def test_prefer_return(client: TestClient) -> None:
    minimal = create(client, patient(), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b""
    assert "location" in minimal.headers
    outcome = create(client, patient(), Prefer="return=OperationOutcome")
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    full = create(client, patient(), Prefer="return=representation")
    assert full.json()["resourceType"] == "Patient"


def test_summary_and_elements(client: TestClient) -> None:
    body = patient(
        id="p1",
        text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    )
    body["contact"] = [{"name": {"family": "Berg"}}]
    client.put("/Patient/p1", json=body)
    summary = client.get("/Patient/p1?_summary=true").json()
    assert "name" in summary and "contact" not in summary and "text" not in summary
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    text = client.get("/Patient/p1?_summary=text").json()
    assert "text" in text and "name" not in text
    data = client.get("/Patient/p1?_summary=data").json()
    assert "text" not in data and "contact" in data
    elements = client.get("/Patient/p1?_elements=gender,Patient.birthDate").json()
    assert set(elements) == {"resourceType", "id", "meta", "gender", "birthDate"}


def test_if_none_match_gives_304(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    response = client.get("/Patient/p1", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304


def test_no_op_update_keeps_version(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    again = client.put("/Patient/p1", json=patient(id="p1"))
    assert again.status_code == 200
    assert again.json()["meta"]["versionId"] == "1"


def test_decimal_precision_is_kept(client: TestClient) -> None:
    body = (
        b'{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Vikt"},'
        b'"valueQuantity":{"value":72.50,"unit":"kg"},'
        b'"referenceRange":[{"low":{"value":1e1},"high":{"value":0.10000000000000000001}}]}'
    )
    response = client.put(
        "/Observation/o1", content=body, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 201, response.text
    for raw in (response.content, client.get("/Observation/o1").content):
        assert b'"value":72.50' in raw
        assert b'"value":1e1' in raw
        assert b'"value":0.10000000000000000001' in raw
    invalid = client.put(
        "/Observation/o2",
        content=body.replace(b'"o1"', b'"o2"').replace(b'"final"', b'"done"'),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert invalid.status_code == 400
    assert invalid.json()["issue"][0]["expression"] == ["Observation.status"]
