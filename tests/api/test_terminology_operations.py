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


LOCAL_CS = {
    "resourceType": "CodeSystem",
    "url": "http://example.org/fhir/CodeSystem/boende",
    "status": "active",
    "content": "complete",
    "concept": [
        {"code": "ensam", "display": "Bor ensam"},
        {"code": "sambo", "display": "Bor med make/maka/sambo"},
    ],
}
LOCAL_VS = {
    "resourceType": "ValueSet",
    "url": "http://example.org/fhir/ValueSet/boende",
    "status": "active",
    "compose": {"include": [{"system": LOCAL_CS["url"]}]},
}


def test_instance_level_on_stored_resources(tx):
    """ValueSet/[id]/$expand, CodeSystem/[id]/$lookup and $validate-code on what a client
    stored, and on our own definitions as published."""
    cs = tx.post("/CodeSystem", json=LOCAL_CS).json()["id"]
    vs = tx.post(
        "/ValueSet",
        json={
            **LOCAL_VS,
            "compose": {
                "include": [
                    {
                        "system": LOCAL_CS["url"],
                        "concept": [{"code": "ensam", "display": "Bor ensam"}],
                    }
                ]
            },
        },
    ).json()["id"]
    expanded = tx.get(f"/ValueSet/{vs}/$expand")
    assert expanded.status_code == 200, expanded.text
    contains = expanded.json()["expansion"]["contains"]
    assert [(c["code"], c["display"]) for c in contains] == [("ensam", "Bor ensam")]
    looked = tx.get(f"/CodeSystem/{cs}/$lookup?code=sambo")
    assert looked.status_code == 200, looked.text
    assert _params(looked.json())["display"] == "Bor med make/maka/sambo"
    assert tx.get(f"/CodeSystem/{cs}/$lookup?code=nope").status_code == 404
    valid = _params(tx.get(f"/CodeSystem/{cs}/$validate-code?code=ensam").json())
    assert valid["result"] is True
    wrong = _params(tx.get(f"/CodeSystem/{cs}/$validate-code?code=ensam&display=Fel").json())
    assert wrong["result"] is False and "Bor ensam" in wrong["message"]
    in_vs = _params(
        tx.get(f"/ValueSet/{vs}/$validate-code?system={LOCAL_CS['url']}&code=sambo").json()
    )
    assert in_vs["result"] is False  # in the code system, not in this value set
    assert tx.get("/ValueSet/nope/$expand").status_code == 404
    assert tx.get("/ValueSet/nope/$expand").json()["resourceType"] == "OperationOutcome"


def test_instance_level_on_published_definitions(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", insecure_no_auth=True)  # publishes
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        url = "https://lus.example.se/fhir/ValueSet/lus-notice-type"
        (entry,) = client.get("/ValueSet", params={"url": url}).json()["entry"]
        expanded = client.get(f"/ValueSet/{entry['resource']['id']}/$expand").json()
        codes = {c["code"] for c in expanded["expansion"]["contains"]}
        assert {"inskrivningsmeddelande", "utskrivningsklar", "kvittens"} <= codes
        kommun = "urn:oid:1.2.752.129.2.2.1.17"
        (entry,) = client.get("/CodeSystem", params={"url": kommun}).json()["entry"]
        looked = client.get(f"/CodeSystem/{entry['resource']['id']}/$lookup?code=0880").json()
        assert _params(looked)["display"] == "Kalmar"
