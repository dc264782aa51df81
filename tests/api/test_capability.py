"""GET /metadata reflects the definitions and what is implemented."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_capability_statement(client: TestClient) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    types = {r["type"] for r in rest["resource"]}
    assert len(types) == 146
    assert {"Patient", "Encounter", "Communication", "Task", "CarePlan"} <= types
    assert "DomainResource" not in types and "Resource" not in types
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert {"read", "vread", "update", "patch", "delete", "create", "history-instance"} <= codes
    assert {i["code"] for i in rest["interaction"]} >= {"transaction", "batch", "history-system"}
    # the statement is itself a valid resource
    created = client.post("/CapabilityStatement", json=statement)
    assert created.status_code == 201, created.text
