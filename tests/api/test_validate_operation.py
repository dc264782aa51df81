"""$validate over HTTP and validate-on-write: invalid instances are rejected with an
OperationOutcome naming the element (expression) and the rule (diagnostics)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import shared_path

HL7SE = "swedish/hl7se-basprofiler-1.1.0"
SE_PATIENT = "http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient"
STRICT = "http://example.org/fhir/StructureDefinition/StrictSwedishPatient"

# A profile on SEBasePatient (a profile on a profile): closed identifier slicing, gender
# required, marital status bound (required) to HL7 Sweden's value set.
STRICT_PROFILE = {
    "resourceType": "StructureDefinition",
    "url": STRICT,
    "version": "0.1.0",
    "name": "StrictSwedishPatient",
    "status": "draft",
    "fhirVersion": "4.0.1",
    "kind": "resource",
    "abstract": False,
    "type": "Patient",
    "baseDefinition": SE_PATIENT,
    "derivation": "constraint",
    "differential": {
        "element": [
            {
                "id": "Patient.identifier",
                "path": "Patient.identifier",
                "slicing": {
                    "discriminator": [{"type": "value", "path": "system"}],
                    "rules": "closed",
                },
                "min": 1,
            },
            {"id": "Patient.gender", "path": "Patient.gender", "min": 1},
            {
                "id": "Patient.maritalStatus",
                "path": "Patient.maritalStatus",
                "binding": {
                    "strength": "required",
                    "valueSet": "http://hl7.se/fhir/ig/base/ValueSet/SEBaseMaritalStatusVS",
                },
            },
        ]
    },
}


@pytest.fixture
def se_client(tmp_path: Path) -> Iterator[TestClient]:
    ours = tmp_path / "profiles"
    ours.mkdir()
    (ours / "StructureDefinition-StrictSwedishPatient.json").write_text(json.dumps(STRICT_PROFILE))
    settings = Settings(
        data_dir=tmp_path / "data",
        conformance_dirs=[shared_path(HL7SE), ours],
        insecure_no_auth=True,
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client


def _patient() -> dict[str, Any]:
    resource = json.loads((shared_path(HL7SE) / "Patient-PatientExample1.json").read_text())
    resource.pop("id")
    resource["gender"] = "male"
    resource["meta"]["profile"] = [STRICT]
    return resource


def _wrong_check_digit(p: dict[str, Any]) -> None:
    p["identifier"][0]["value"] = "195009072554"


def _second_personnummer(p: dict[str, Any]) -> None:
    p["identifier"].append(dict(p["identifier"][0], value="199002222397"))


def _unknown_identifier_system(p: dict[str, Any]) -> None:
    p["identifier"].append({"system": "http://example.org/mrn", "value": "12345"})


def _unknown_marital_status(p: dict[str, Any]) -> None:
    p["maritalStatus"] = {
        "coding": [
            {"system": "http://hl7.se/fhir/ig/base/CodeSystem/se-base-marital-status", "code": "XX"}
        ]
    }


def _contact_without_content(p: dict[str, Any]) -> None:
    p["contact"] = [{"gender": "female"}]


def _no_gender(p: dict[str, Any]) -> None:
    del p["gender"]


def _two_names(p: dict[str, Any]) -> None:
    p["name"].append({"family": "Andersson"})


def _wrong_samordningsnummer(p: dict[str, Any]) -> None:
    p["identifier"] = [
        {
            "system": "http://electronichealth.se/identifier/samordningsnummer",
            "value": "196109132393",
        }
    ]


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("check digit", _wrong_check_digit, "personnummer:", "Patient.identifier[0].value"),
    (
        "samordningsnummer day",
        _wrong_samordningsnummer,
        "samordningsnummer:",
        "Patient.identifier[0].value",
    ),
    (
        "wrong slice: two personnummer",
        _second_personnummer,
        "slice-cardinality:",
        "Patient.identifier",
    ),
    ("closed slicing", _unknown_identifier_system, "slicing-closed:", "Patient.identifier[1]"),
    ("required binding", _unknown_marital_status, "binding-required:", "Patient.maritalStatus"),
    ("invariant pat-1", _contact_without_content, "invariant pat-1:", "Patient.contact[0]"),
    ("cardinality min", _no_gender, "cardinality:", "Patient.gender"),
    ("cardinality max", _two_names, "cardinality:", "Patient.name"),
]


def _errors(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    assert outcome["resourceType"] == "OperationOutcome"
    return [i for i in outcome["issue"] if i["severity"] == "error"]


def test_valid_patient_has_no_errors(se_client):
    answer = se_client.post("/Patient/$validate", json=_patient())
    assert answer.status_code == 200
    assert _errors(answer.json()) == []
    assert answer.json()["issue"][-1]["diagnostics"] == "Validation found no errors"


@pytest.mark.parametrize(
    ("case", "break_it", "rule", "expression"), INVALID, ids=[c[0] for c in INVALID]
)
def test_validate_names_element_and_rule(se_client, case, break_it, rule, expression):
    patient = _patient()
    break_it(patient)
    answer = se_client.post("/Patient/$validate", json=patient)
    assert answer.status_code == 200
    errors = _errors(answer.json())
    assert any(
        e["diagnostics"].startswith(rule) and e["expression"] == [expression] for e in errors
    ), errors


@pytest.mark.parametrize(
    ("case", "break_it", "rule", "expression"), INVALID, ids=[c[0] for c in INVALID]
)
def test_write_is_rejected_and_nothing_stored(se_client, case, break_it, rule, expression):
    patient = _patient()
    break_it(patient)
    created = se_client.post("/Patient", json=patient)
    assert created.status_code == 422
    assert any(e["diagnostics"].startswith(rule) for e in _errors(created.json()))
    updated = se_client.put("/Patient/p1", json=dict(patient, id="p1"))
    assert updated.status_code == 422
    assert se_client.get("/Patient/p1").status_code == 404
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "active": True},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": patient, "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    assert se_client.post("/", json=bundle).status_code == 422
    assert se_client.get("/Patient").json().get("entry", []) == []


def test_valid_write_is_stored(se_client):
    created = se_client.post("/Patient", json=_patient())
    assert created.status_code == 201


def test_profile_parameter_and_parameters_body(se_client):
    patient = _patient()
    patient["meta"].pop("profile")
    del patient["gender"]
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient},
            {"name": "profile", "valueUri": STRICT},
            {"name": "mode", "valueCode": "create"},
        ],
    }
    errors = _errors(se_client.post("/Patient/$validate", json=body).json())
    assert [e["expression"] for e in errors] == [["Patient.gender"]]
    # against SEBasePatient gender is optional
    body["parameter"][1]["valueUri"] = SE_PATIENT
    assert _errors(se_client.post("/Patient/$validate", json=body).json()) == []


def test_unknown_profile_and_bad_mode(se_client):
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": _patient()},
            {"name": "profile", "valueUri": "http://example.org/nothing"},
        ],
    }
    unknown = se_client.post("/Patient/$validate", json=body)
    assert unknown.status_code == 400
    assert unknown.json()["issue"][0]["expression"] == ["profile"]
    body["parameter"][1] = {"name": "mode", "valueCode": "destroy"}
    assert se_client.post("/Patient/$validate", json=body).status_code == 400
    wrong_type = se_client.post("/Observation/$validate", json=_patient())
    assert _errors(wrong_type.json())[0]["expression"] == ["resourceType"]


def test_unknown_claimed_profile_is_a_warning(se_client):
    patient = _patient()
    patient["meta"]["profile"] = ["http://example.org/fhir/StructureDefinition/Unknown"]
    assert se_client.post("/Patient", json=patient).status_code == 201
    outcome = se_client.post("/Patient/$validate", json=patient).json()
    assert any(
        i["severity"] == "warning" and "Unknown" in i["diagnostics"] for i in outcome["issue"]
    )


def test_unknown_claimed_profile_rejected_when_configured(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", unknown_profile_on_write="error", insecure_no_auth=True
    )
    patient = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/x"]}}
    with TestClient(create_app(settings)) as client:
        assert client.post("/Patient", json=patient).status_code == 422


def test_required_profiles_apply_without_a_claim(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        conformance_dirs=[shared_path(HL7SE)],
        required_profiles={"Patient": [SE_PATIENT]},
        insecure_no_auth=True,
    )
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {
                "system": "http://electronichealth.se/identifier/personnummer",
                "value": "195009072554",
            }
        ],
    }
    with TestClient(create_app(settings)) as client:
        rejected = client.post("/Patient", json=patient)
        assert rejected.status_code == 422
        assert rejected.json()["issue"][0]["expression"] == ["Patient.identifier[0].value"]
        patient["identifier"][0]["value"] = "195009072553"
        assert client.post("/Patient", json=patient).status_code == 201


def test_instance_level_and_delete_mode(se_client):
    created = se_client.post("/Patient", json=_patient())
    rid = created.json()["id"]
    stored = se_client.post(f"/Patient/{rid}/$validate", json={"resourceType": "Parameters"})
    assert stored.status_code == 200
    assert _errors(stored.json()) == []
    delete = {"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "delete"}]}
    assert se_client.post(f"/Patient/{rid}/$validate", json=delete).status_code == 200
    assert se_client.post("/Patient/missing/$validate", json=delete).status_code == 404
    assert se_client.post("/Patient/$validate", json=delete).status_code == 400
    patient = copy.deepcopy(_patient())
    patient["id"] = "other"
    update = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient},
            {"name": "mode", "valueCode": "update"},
        ],
    }
    errors = _errors(se_client.post(f"/Patient/{rid}/$validate", json=update).json())
    assert errors[0]["expression"] == ["id"]
