"""PATCH through HTTP: JSON Patch and FHIRPath Patch, validated and versioned."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.test_crud import patient

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_json_patch(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    ops = [
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "add", "path": "/name/0/given/-", "value": "Maria"},
    ]
    response = client.patch("/Patient/p1", json=ops, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["gender"] == "male" and body["name"][0]["given"] == ["Åsa", "Maria"]
    assert body["meta"]["versionId"] == "2"
    assert response.headers["etag"] == 'W/"2"'
    history = client.get("/Patient/p1/_history").json()
    assert history["entry"][0]["request"]["method"] == "PATCH"


def test_fhirpath_patch(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Patient.birthDate"},
                    {"name": "value", "valueDate": "1913-01-01"},
                ],
            }
        ],
    }
    response = client.patch("/Patient/p1", json=parameters)
    assert response.status_code == 200, response.text
    assert client.get("/Patient/p1").json()["birthDate"] == "1913-01-01"


def test_patch_failures_change_nothing(client: TestClient) -> None:
    client.put("/Patient/p1", json=patient(id="p1"))
    failing_test = [{"op": "test", "path": "/gender", "value": "male"}]
    response = client.patch("/Patient/p1", json=failing_test, headers=JSON_PATCH)
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    invalid_result = [{"op": "replace", "path": "/gender", "value": "neither"}]
    response = client.patch("/Patient/p1", json=invalid_result, headers=JSON_PATCH)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Patient.gender"]
    change_id = [{"op": "replace", "path": "/id", "value": "p2"}]
    assert client.patch("/Patient/p1", json=change_id, headers=JSON_PATCH).status_code == 422
    not_a_patch = {"op": "replace"}
    assert client.patch("/Patient/p1", json=not_a_patch, headers=JSON_PATCH).status_code == 400
    assert client.get("/Patient/p1").json()["meta"]["versionId"] == "1"
    assert client.patch("/Patient/nope", json=failing_test, headers=JSON_PATCH).status_code == 404
    stale = client.patch(
        "/Patient/p1",
        json=[{"op": "replace", "path": "/gender", "value": "male"}],
        headers={**JSON_PATCH, "If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412
    client.delete("/Patient/p1")
    assert client.patch("/Patient/p1", json=failing_test, headers=JSON_PATCH).status_code == 410
