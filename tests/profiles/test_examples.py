"""The examples: one for every profile, each claiming a profile we ship, meeting the
profiles' resource-level invariants; the complete case is accepted as one transaction and
found again through our SearchParameters."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import fhirpathpy
import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.definitions.content import (
    CANONICAL_BASE,
    content_files,
    content_root,
    is_example,
)
from fhir_server.fhirpath.model import R4

CASE = "Bundle-lus-complete-case.json"


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value


def _examples() -> list[dict[str, Any]]:
    return [_load(p) for p in content_files() if is_example(p) and p.name != CASE]


def _structure_definitions() -> dict[str, dict[str, Any]]:
    found = (_load(p) for p in content_files() if not is_example(p))
    return {r["url"]: r for r in found if r["resourceType"] == "StructureDefinition"}


def _profiles_of(url: str, sds: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A profile and the profiles it derives from (ours and HL7 Sweden's)."""
    chain = []
    while url in sds:
        chain.append(sds[url])
        url = sds[url]["baseDefinition"]
    return chain


def test_every_profile_of_ours_has_an_example() -> None:
    claimed = {url for r in _examples() for url in r.get("meta", {}).get("profile", [])}
    ours = [
        sd
        for sd in _structure_definitions().values()
        if sd["url"].startswith(CANONICAL_BASE) and sd["type"] != "Extension"
    ]
    assert len(ours) >= 24
    assert [sd["id"] for sd in ours if sd["url"] not in claimed] == []


def test_every_example_claims_a_profile_we_ship_for_its_type() -> None:
    sds = _structure_definitions()
    for example in _examples():
        profiles = example.get("meta", {}).get("profile", [])
        assert profiles, example["id"]
        for url in profiles:
            assert url in sds, (example["id"], url)
            assert sds[url]["type"] == example["resourceType"]


def test_references_between_examples_resolve() -> None:
    keys = {f"{r['resourceType']}/{r['id']}" for r in _examples()}
    references: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                references.append(value["reference"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(_examples())
    assert len(references) > 100
    assert sorted(set(references) - keys) == []


def _invariants(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, expression) of the resource-level invariants of every profile it claims."""
    sds = _structure_definitions()
    found = []
    for url in resource.get("meta", {}).get("profile", []):
        for sd in _profiles_of(url, sds):
            for element in sd["differential"]["element"]:
                if element["id"] == sd["type"]:
                    found += [(c["key"], c["expression"]) for c in element.get("constraint", [])]
    return found


def _holds(resource: dict[str, Any], expression: str) -> bool:
    return fhirpathpy.evaluate(resource, expression, {}, R4) == [True]


def test_examples_meet_their_profiles_invariants() -> None:
    checked = 0
    for example in _examples():
        for key, expression in _invariants(example):
            assert _holds(example, expression), (example["id"], key)
            checked += 1
    assert checked >= 5


def test_invariants_catch_broken_instances() -> None:
    examples = {f"{r['resourceType']}/{r['id']}": r for r in _examples()}
    stay = orjson.loads(orjson.dumps(examples["Encounter/karin-stay"]))
    invariants = dict(_invariants(stay))
    stay["extension"] = [e for e in stay["extension"] if not e["url"].endswith("-time")]
    stay["extension"][-1]["valueCoding"]["code"] = "utskrivningsklar"
    assert not _holds(stay, invariants["lus-enc-1"])
    stay["extension"][-1]["valueCoding"]["code"] = "utskriven"
    del stay["period"]["end"]
    assert not _holds(stay, invariants["lus-enc-2"])

    patient = orjson.loads(orjson.dumps(examples["Patient/karin"]))
    invariants = dict(_invariants(patient))
    patient["address"][0]["extension"] = patient["address"][0]["extension"][:1]
    assert not _holds(patient, invariants["lus-pat-2"])  # folkbokföringsadress, no kommunkod
    patient["identifier"][0]["system"] = "urn:oid:1.2.752.129.2.1.3.1"
    assert not _holds(patient, invariants["lus-pat-1"])


def _full_url(key: str) -> str:
    """The fullUrl profiles/tools/compile_fsh.py gives the example `key` in the case."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{CANONICAL_BASE}/{key}')}"


@pytest.fixture
def case(client: TestClient) -> dict[str, str]:
    """The complete case posted as a transaction: example key → the id the server gave."""
    bundle = _load(content_root() / "profiles" / "examples" / CASE)
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created"] * len(bundle["entry"])
    keys = {_full_url(f"{r['resourceType']}/{r['id']}"): r for r in _examples()}
    ids: dict[str, str] = {}
    for sent, got in zip(bundle["entry"], answer["entry"], strict=True):
        example = keys[sent["fullUrl"]]
        kind, rid = got["response"]["location"].split("/")[:2]
        assert kind == example["resourceType"]
        ids[f"{kind}/{example['id']}"] = rid
    return ids


def _found(client: TestClient, query: str) -> set[str]:
    response = client.get(query)
    assert response.status_code == 200, (query, response.text)
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


def test_complete_case_is_one_transaction(case: dict[str, str]) -> None:
    assert len(case) == 28
    kinds = {key.split("/")[0] for key in case}
    assert {"Patient", "Organization", "Encounter", "Communication", "Task"} <= kinds
    assert {"CarePlan", "CareTeam"} <= kinds


def test_complete_case_is_found_by_our_parameters(client: TestClient, case: dict[str, str]) -> None:
    stay = case["Encounter/karin-stay"]
    assert _found(client, "/Encounter?lus-state=utskriven") == {stay}
    assert _found(client, "/Encounter?utskrivningsklar=2026-02-17") == {stay}
    assert _found(client, "/Encounter?estimated-discharge=ge2026-02-17T00:00:00%2B01:00") == {stay}
    assert _found(client, "/Encounter?care-type=somatisk") == {stay}
    assert _found(client, "/Patient?kommunkod=urn:oid:1.2.752.129.2.2.1.17|0880") == {
        case["Patient/karin"]
    }
    notices = {v for k, v in case.items() if k.startswith("Communication/")}
    assert _found(client, f"/Communication?about=Encounter/{stay}") == notices
    inskrivning = case["Communication/karin-inskrivningsmeddelande"]
    assert _found(client, f"/Communication?in-response-to={inskrivning}") == {
        case["Communication/karin-kvittens-kommun"],
        case["Communication/karin-kvittens-vc"],
    }
    # the case's own Tasks, and those the workflow made for it (tests/transitions)
    assert {
        case["Task/karin-task-skicka-inskrivningsmeddelande"],
        case["Task/karin-task-kvittera-kommun"],
        case["Task/karin-task-paborja-planering"],
    } < _found(client, "/Task?deadline=lt2026-02-11")
    kommun = case["Organization/kalmar-kommun"]
    assert _found(client, f"/CarePlan?contributor=Organization/{kommun}") == {
        case["CarePlan/karin-sip"],
        case["CarePlan/karin-spu"],
    }
    # the receivers' view: what was addressed to the municipality, and what it must do
    to_kommun = _found(client, f"/Communication?recipient=Organization/{kommun}")
    assert case["Communication/karin-inskrivningsmeddelande"] in to_kommun
    assert case["Communication/karin-kvittens-kommun"] not in to_kommun
    assert {
        case["Task/karin-task-kvittera-kommun"],
        case["Task/karin-task-paborja-planering"],
    } < _found(client, f"/Task?owner=Organization/{kommun}")


def test_complete_case_again_reuses_the_parties(client: TestClient, case: dict[str, str]) -> None:
    bundle = _load(content_root() / "profiles" / "examples" / CASE)
    answer = client.post("/", json=bundle).json()
    statuses = [e["response"]["status"] for e in answer["entry"]]
    conditional = [e["request"].get("ifNoneExist") is not None for e in bundle["entry"]]
    assert [s for s, c in zip(statuses, conditional, strict=True) if c] == ["200 OK"] * 5
    assert len(_found(client, "/Organization")) == 3
    assert len(_found(client, "/Patient")) == 1
    assert len(_found(client, "/Encounter")) == 2
