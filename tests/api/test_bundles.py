"""batch and transaction Bundles (http.html#transaction)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.test_crud import patient

PNR_SYSTEM = "http://electronichealth.se/identifier/personnummer"


def _tx(entries: list[dict[str, Any]], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def _encounter(subject: str, extra_ref: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": subject},
        "extension": [
            {
                "url": "http://example.org/fhir/StructureDefinition/x",
                "valueReference": {"reference": subject},
            }
        ],
        "contained": [
            {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": subject},
            }
        ],
    }
    if extra_ref:
        body["serviceProvider"] = {"reference": extra_ref}
    return body


def test_transaction_resolves_urn_uuid_everywhere(client: TestClient) -> None:
    pid = "urn:uuid:6f1c0e8e-2b1a-4a5e-9b1e-000000000001"
    bundle = _tx(
        [
            {
                "fullUrl": "urn:uuid:6f1c0e8e-2b1a-4a5e-9b1e-000000000002",
                "resource": _encounter(pid),
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": pid,
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
        ]
    )
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    patient_location = result["entry"][1]["response"]["location"]
    patient_ref = "/".join(patient_location.split("/")[:2])
    encounter = client.get(
        "/" + result["entry"][0]["response"]["location"].split("/_history")[0]
    ).json()
    assert encounter["subject"]["reference"] == patient_ref
    assert encounter["extension"][0]["valueReference"]["reference"] == patient_ref
    assert encounter["contained"][0]["subject"]["reference"] == patient_ref


def test_transaction_is_atomic(client: TestClient) -> None:
    bundle = _tx(
        [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": patient(id="p9"), "request": {"method": "PUT", "url": "Patient/p9"}},
            # stale If-Match: the whole transaction must fail
            {
                "resource": patient(id="p8"),
                "request": {"method": "PUT", "url": "Patient/p8", "ifMatch": 'W/"4"'},
            },
        ]
    )
    response = client.post("/", json=bundle)
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[2]" in response.json()["issue"][0]["diagnostics"]
    assert client.get("/_history").json()["total"] == 0
    assert client.get("/Patient/p9").status_code == 404


def test_transaction_invalid_entry_stores_nothing(client: TestClient) -> None:
    bundle = _tx(
        [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": patient(birthDate="20-20"),
                "request": {"method": "POST", "url": "Patient"},
            },
        ]
    )
    response = client.post("/", json=bundle)
    assert response.status_code == 400
    assert "Bundle.entry[1].resource.birthDate" in response.json()["issue"][0]["expression"]
    assert client.get("/_history").json()["total"] == 0


def test_transaction_order_and_conditional_references(client: TestClient) -> None:
    client.put("/Patient/old", json=patient(id="old"))
    org = {
        "resourceType": "Organization",
        "identifier": [{"system": "urn:oid:1.2.752.29.4.19", "value": "SE2321000032-1"}],
        "name": "Avd 12",
    }
    client.post("/Organization", json=org)
    bundle = _tx(
        [
            {"request": {"method": "GET", "url": "Patient/new"}},
            {
                "resource": _encounter(
                    f"Patient?identifier={PNR_SYSTEM}|191212121212",
                    "Organization?identifier=urn:oid:1.2.752.29.4.19|SE2321000032-1",
                ),
                "request": {"method": "POST", "url": "Encounter"},
            },
            {"resource": patient(id="new"), "request": {"method": "PUT", "url": "Patient/new"}},
            {"request": {"method": "DELETE", "url": "Patient/old"}},
        ]
    )
    # the conditional reference must find exactly one Patient: only "new" after the DELETE
    response = client.post("/", json=bundle)
    assert response.status_code == 412  # "new" is created after POSTs: no match yet
    client.put("/Patient/new", json=patient(id="new"))
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["resource"]["id"] == "new"  # GET runs after the PUT
    assert entries[3]["response"]["status"] == "204 No Content"
    encounter_url = entries[1]["response"]["location"].split("/_history")[0]
    encounter = client.get("/" + encounter_url).json()
    assert encounter["subject"]["reference"] == "Patient/new"
    assert encounter["serviceProvider"]["reference"].startswith("Organization/")


def test_transaction_conditional_create_inside(client: TestClient) -> None:
    existing = client.post("/Patient", json=patient()).json()["id"]
    pid = "urn:uuid:0e6c8e1c-1f7a-4a51-9d7a-000000000003"
    bundle = _tx(
        [
            {
                "fullUrl": pid,
                "resource": patient(),
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier={PNR_SYSTEM}|191212121212",
                },
            },
            {"resource": _encounter(pid), "request": {"method": "POST", "url": "Encounter"}},
        ]
    )
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    encounter = client.get("/" + entries[1]["response"]["location"].split("/_history")[0]).json()
    assert encounter["subject"]["reference"] == f"Patient/{existing}"
    assert client.get("/Patient/_history").json()["total"] == 1


def test_transaction_rejects_same_resource_twice(client: TestClient) -> None:
    bundle = _tx(
        [
            {"resource": patient(id="a"), "request": {"method": "PUT", "url": "Patient/a"}},
            {"request": {"method": "DELETE", "url": "Patient/a"}},
        ]
    )
    assert client.post("/", json=bundle).status_code == 400


def test_batch_entries_are_independent(client: TestClient) -> None:
    bundle = _tx(
        [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": patient(birthDate="bad"), "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/missing"}},
            {"resource": patient(id="b1"), "request": {"method": "PUT", "url": "Patient/b1"}},
            {"request": {"method": "GET", "url": "Nonsense/1"}},
        ],
        kind="batch",
    )
    response = client.post("/", json=bundle)
    assert response.status_code == 200
    result = response.json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"].split(" ")[0] for e in result["entry"]]
    assert statuses == ["201", "400", "404", "201", "404"]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert client.get("/Patient/_history").json()["total"] == 2


def test_bundle_type_must_be_batch_or_transaction(client: TestClient) -> None:
    response = client.post("/", json={"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400
    assert client.post("/", json=patient()).status_code == 400


def test_transaction_conditional_update_checks_ids(client: TestClient) -> None:
    client.put("/Patient/known", json=patient(id="known"))
    criteria = f"Patient?identifier={PNR_SYSTEM}|191212121212"
    wrong_id = _tx(
        [{"resource": patient(id="other"), "request": {"method": "PUT", "url": criteria}}]
    )
    response = client.post("/", json=wrong_id)
    assert response.status_code == 400
    assert "Bundle.entry[0]" in response.json()["issue"][0]["diagnostics"]
    other = patient(id="taken")
    other["identifier"][0]["value"] = "194001019807"
    client.put("/Patient/taken", json=other)
    no_match = _tx(
        [
            {
                "resource": patient(id="taken"),
                "request": {
                    "method": "PUT",
                    "url": f"Patient?identifier={PNR_SYSTEM}|200001019800",
                },
            }
        ]
    )
    assert client.post("/", json=no_match).status_code == 409
    match = _tx(
        [
            {
                "resource": patient(id="known", gender="male"),
                "request": {"method": "PUT", "url": criteria},
            }
        ]
    )
    response = client.post("/", json=match)
    assert response.status_code == 200, response.text
    assert client.get("/Patient/known").json()["gender"] == "male"
