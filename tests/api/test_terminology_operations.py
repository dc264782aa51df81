"""Terminology operations over HTTP, over the R4 core's terminology and HL7 Sweden's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import shared_path

GENDER_CS = "http://hl7.org/fhir/administrative-gender"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
SE_MARITAL_VS = "http://hl7.se/fhir/ig/base/ValueSet/SEBaseMaritalStatusVS"
SE_MARITAL_CS = "http://hl7.se/fhir/ig/base/CodeSystem/se-base-marital-status"


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[TestClient]:
    folder = shared_path("swedish/hl7se-basprofiler-1.1.0")
    settings = Settings(
        data_dir=tmp_path / "data", conformance_dirs=[folder], insecure_no_auth=True
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client


def _params(body: dict) -> dict:
    out = {}
    for p in body["parameter"]:
        out.setdefault(p["name"], next((v for k, v in p.items() if k.startswith("value")), p))
    return out


def test_lookup(tx):
    found = tx.get(f"/CodeSystem/$lookup?system={GENDER_CS}&code=female")
    assert found.status_code == 200
    assert _params(found.json())["display"] == "Female"
    swedish = tx.post(
        "/CodeSystem/$lookup",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": SE_MARITAL_CS, "code": "RP"}}
            ],
        },
    )
    assert _params(swedish.json())["display"] == "Registrerad partner"
    assert tx.get(f"/CodeSystem/$lookup?system={GENDER_CS}&code=nope").status_code == 404
    assert tx.get("/CodeSystem/$lookup?system=http://example.org/cs&code=a").status_code == 404
    missing = tx.get("/CodeSystem/$lookup?code=female")
    assert missing.status_code == 400
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_expand_with_filter_count_offset(tx):
    whole = tx.get(f"/ValueSet/$expand?url={SE_MARITAL_VS}").json()
    assert whole["expansion"]["total"] == 7
    codes = [c["code"] for c in whole["expansion"]["contains"]]
    assert codes == ["M", "D", "W", "U", "RP", "SP", "EP"]
    page = tx.get(f"/ValueSet/$expand?url={SE_MARITAL_VS}&offset=2&count=3").json()
    assert [c["code"] for c in page["expansion"]["contains"]] == ["W", "U", "RP"]
    assert page["expansion"]["offset"] == 2
    filtered = tx.get(f"/ValueSet/$expand?url={SE_MARITAL_VS}&filter=partner").json()
    assert filtered["expansion"]["total"] == 3
    # a value set over a whole core code system (with a filter in its compose)
    assert tx.get(f"/ValueSet/$expand?url={GENDER_VS}").json()["expansion"]["total"] == 4


def test_expand_failures(tx):
    unknown = tx.get("/ValueSet/$expand?url=http://example.org/vs")
    assert unknown.status_code == 404
    snomed = tx.get("/ValueSet/$expand?url=http://hl7.se/fhir/ig/base/ValueSet/SEBaseSKRYrkeVS")
    assert snomed.status_code == 422
    assert "snomed" in snomed.json()["issue"][0]["diagnostics"]
    assert tx.get("/ValueSet/$expand").status_code == 400
    assert tx.get(f"/ValueSet/$expand?url={GENDER_VS}&count=-1").status_code == 400
    assert tx.get(f"/ValueSet/$expand?url={GENDER_VS}&count=many").status_code == 400


def test_validate_code(tx):
    good = tx.get(f"/ValueSet/$validate-code?url={SE_MARITAL_VS}&system={SE_MARITAL_CS}&code=SP")
    assert _params(good.json())["result"] is True
    bad = tx.get(f"/ValueSet/$validate-code?url={SE_MARITAL_VS}&system={SE_MARITAL_CS}&code=XX")
    assert _params(bad.json())["result"] is False
    assert "XX" in _params(bad.json())["message"]
    concept = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": GENDER_VS},
            {
                "name": "codeableConcept",
                "valueCodeableConcept": {"coding": [{"system": GENDER_CS, "code": "other"}]},
            },
        ],
    }
    assert _params(tx.post("/ValueSet/$validate-code", json=concept).json())["result"] is True
    in_cs = tx.get(f"/CodeSystem/$validate-code?url={GENDER_CS}&code=male&display=Male")
    assert _params(in_cs.json())["result"] is True
    wrong_display = tx.get(f"/CodeSystem/$validate-code?url={GENDER_CS}&code=male&display=Man")
    assert _params(wrong_display.json())["result"] is False
    assert tx.get("/CodeSystem/$validate-code?url=http://example.org/x&code=a").status_code == 404
    assert tx.get(f"/ValueSet/$validate-code?url={GENDER_VS}").status_code == 400


def test_translate(tx):
    answer = tx.get(f"/ConceptMap/$translate?system={GENDER_CS}&code=female").json()
    values = _params(answer)
    assert values["result"] is True
    targets = {
        (part["valueCoding"]["system"], part["valueCoding"]["code"])
        for match in answer["parameter"]
        if match["name"] == "match"
        for part in match["part"]
        if part["name"] == "concept"
    }
    assert ("http://terminology.hl7.org/CodeSystem/v2-0001", "F") in targets
    nothing = tx.get(f"/ConceptMap/$translate?system={GENDER_CS}&code=nope").json()
    assert _params(nothing)["result"] is False
    assert (
        tx.get("/ConceptMap/$translate?url=http://example.org/cm&system=a&code=b").status_code
        == 404
    )
    assert tx.get("/ConceptMap/$translate?code=female").status_code == 400
