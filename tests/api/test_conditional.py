"""conditional create, update and delete (http.html#ccreate, #cond-update, #cdelete)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.test_crud import patient

PNR = "identifier=http://electronichealth.se/identifier/personnummer|191212121212"


def test_conditional_create(client: TestClient) -> None:
    first = client.post("/Patient", json=patient(), headers={"If-None-Exist": PNR})
    assert first.status_code == 201
    second = client.post("/Patient", json=patient(), headers={"If-None-Exist": PNR})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert client.get("/Patient/_history").json()["total"] == 1
    client.post("/Patient", json=patient())  # a second match, created unconditionally
    third = client.post("/Patient", json=patient(), headers={"If-None-Exist": PNR})
    assert third.status_code == 412
    assert third.json()["resourceType"] == "OperationOutcome"


def test_conditional_create_unknown_parameter(client: TestClient) -> None:
    response = client.post("/Patient", json=patient(), headers={"If-None-Exist": "nonsense=1"})
    assert response.status_code == 400
    assert client.get("/_history").json()["total"] == 0


def test_conditional_update(client: TestClient) -> None:
    created = client.put(f"/Patient?{PNR}", json=patient())
    assert created.status_code == 201
    rid = created.json()["id"]
    updated = client.put(f"/Patient?{PNR}", json=patient(gender="male"))
    assert updated.status_code == 200
    assert updated.json()["id"] == rid and updated.json()["meta"]["versionId"] == "2"
    wrong_id = client.put(f"/Patient?{PNR}", json=patient(id="other"))
    assert wrong_id.status_code == 400
    client.post("/Patient", json=patient())
    several = client.put(f"/Patient?{PNR}", json=patient())
    assert several.status_code == 412


def test_conditional_delete(client: TestClient) -> None:
    rid = client.post("/Patient", json=patient()).json()["id"]
    assert client.delete(f"/Patient?{PNR}").status_code == 204
    assert client.get(f"/Patient/{rid}").status_code == 410
    # no match: nothing to do
    assert client.delete(f"/Patient?{PNR}").status_code == 204
    client.post("/Patient", json=patient())
    client.post("/Patient", json=patient())
    assert client.delete(f"/Patient?{PNR}").status_code == 412
    assert client.delete("/Patient").status_code == 400


def test_criteria_must_select_something(client: TestClient) -> None:
    client.post("/Patient", json=patient())
    response = client.post("/Patient", json=patient(), headers={"If-None-Exist": "_format=json"})
    assert response.status_code == 400
    assert client.delete("/Patient?_pretty=true").status_code == 400
    assert client.get("/Patient/_history").json()["total"] == 1


def test_conditional_update_with_an_id_that_belongs_to_another(client: TestClient) -> None:
    other = patient(id="other")
    other["identifier"][0]["value"] = "194001019807"
    client.put("/Patient/other", json=other)
    # no match for the criteria, and the body's id names an existing, different resource
    response = client.put(f"/Patient?{PNR}", json=patient(id="other"))
    assert response.status_code == 409
    assert response.json()["issue"][0]["code"] == "conflict"
    assert client.get("/Patient/other").json()["identifier"][0]["value"] == "194001019807"
    # no match and an unused id: created with that id
    created = client.put(f"/Patient?{PNR}", json=patient(id="chosen"))
    assert created.status_code == 201 and created.json()["id"] == "chosen"
