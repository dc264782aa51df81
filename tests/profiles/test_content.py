"""profiles/ and terminology/: valid JSON resources, unique canonicals, SCB code lists."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.definitions.content import (
    CANONICAL_BASE,
    CONFORMANCE_TYPES,
    canonical_url,
    content_files,
    content_root,
    is_example,
    is_subscription_topic,
)
from fhir_server.validation import default_validator
from tests.conftest import shared_path

KOMMUN = "urn:oid:1.2.752.129.2.2.1.17"
LAN = "urn:oid:1.2.752.129.2.2.1.18"
HL7SE = "http://hl7.se/fhir/ig/base/"


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value


def _definitions() -> list[dict[str, Any]]:
    return [
        r
        for r in (_load(p) for p in content_files() if not is_example(p))
        if r["resourceType"] in CONFORMANCE_TYPES or is_subscription_topic(r)
    ]


def _by_url() -> dict[str, dict[str, Any]]:
    return {u: r for r in _definitions() if (u := canonical_url(r))}


def test_content_is_found_in_the_checkout() -> None:
    root = content_root()
    assert (root / "profiles" / "StructureDefinition-lus-patient.json").is_file()
    assert (root / "terminology" / "CodeSystem-kommun.json").is_file()
    names = {p.name for p in content_files()}
    assert "sushi-config.yaml" not in names and len(names) >= 110


def test_every_file_is_one_valid_resource_named_for_it() -> None:
    validator = default_validator()
    for path in content_files():
        resource = _load(path)
        issues = validator.validate(resource)
        assert not issues, (path.name, [i.diagnostics for i in issues])
        if not is_example(path) or resource["resourceType"] != "Bundle":
            assert path.name == f"{resource['resourceType']}-{resource['id']}.json"


def test_canonicals_unique_versioned_and_ours() -> None:
    seen: dict[str, str] = {}
    for resource in _definitions():
        url = canonical_url(resource)
        assert url, resource["id"]
        assert url not in seen, (url, seen.get(url))
        seen[url] = resource["id"]
        if is_subscription_topic(resource):
            continue
        assert resource.get("version"), url
        assert url.startswith((CANONICAL_BASE + "/", HL7SE, "urn:oid:")), url
        if url.startswith(CANONICAL_BASE):
            kind = resource["resourceType"]
            assert url == f"{CANONICAL_BASE}/{kind}/{resource['id']}"
            assert resource["version"] == "0.1.0"
    assert len(seen) > 60


def test_every_binding_points_to_a_value_set_we_or_the_core_ship() -> None:
    ours = _by_url()
    core = load_definitions()
    checked = 0
    for sd in (r for r in ours.values() if r["resourceType"] == "StructureDefinition"):
        for element in sd.get("differential", {}).get("element", []):
            value_set = element.get("binding", {}).get("valueSet")
            if value_set is None:
                continue
            checked += 1
            url = value_set.split("|")[0]
            if url in ours:
                assert ours[url]["resourceType"] == "ValueSet", url
            else:
                assert core.resource_by_url(url) is not None, (sd["id"], element["id"], url)
    assert checked >= 12


def test_our_value_sets_include_code_systems_we_ship() -> None:
    ours = _by_url()
    for vs in (r for r in ours.values() if r["resourceType"] == "ValueSet"):
        if not vs["url"].startswith(CANONICAL_BASE):
            continue
        for include in vs["compose"]["include"]:
            system = ours.get(include["system"])
            assert system is not None and system["resourceType"] == "CodeSystem", include


def test_every_type_profile_and_extension_has_its_base() -> None:
    ours = _by_url()
    core = load_definitions()
    for sd in (r for r in ours.values() if r["resourceType"] == "StructureDefinition"):
        base = sd["baseDefinition"]
        assert base in ours or core.resource_by_url(base) is not None, (sd["id"], base)
        for element in sd.get("differential", {}).get("element", []):
            for kind in element.get("type", []):
                for url in kind.get("profile", []) + kind.get("targetProfile", []):
                    assert url in ours or core.resource_by_url(url), (sd["id"], url)


def _csv(name: str) -> list[dict[str, str]]:
    with shared_path(f"swedish/geo/{name}").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_kommun_code_system_matches_scb() -> None:
    cs = _by_url()[KOMMUN]
    rows = _csv("municipalities.csv")
    assert cs["count"] == len(cs["concept"]) == len(rows) == 290
    expected = {
        r["municipality_code"]: (r["municipality_name_short"], r["county_code"]) for r in rows
    }
    got = {c["code"]: (c["display"], c["property"][0]["valueCode"]) for c in cs["concept"]}
    assert got == expected
    assert got["0880"] == ("Kalmar", "08") and got["2080"][0] == "Falun"


def test_lan_code_system_matches_scb() -> None:
    cs = _by_url()[LAN]
    rows = _csv("counties.csv")
    assert cs["count"] == len(cs["concept"]) == len(rows) == 21
    assert {c["code"]: c["display"] for c in cs["concept"]} == {
        r["county_code"]: r["county_name"] for r in rows
    }
    counties = {c["code"] for c in cs["concept"]}
    kommun_counties = {c["property"][0]["valueCode"] for c in _by_url()[KOMMUN]["concept"]}
    assert kommun_counties == counties


@pytest.mark.parametrize(
    ("cs_id", "codes"),
    [
        ("lus-notice-type", {"inskrivningsmeddelande", "utskrivningsklar", "kvittens"}),
        ("lus-task-type", {"kvittera", "utse-fast-vardkontakt", "kalla-till-sip"}),
        (
            "lus-state",
            {
                "inskriven",
                "planering",
                "utskrivningsklar",
                "aterkallad",
                "hemgangsklar",
                "utskriven",
                "makulerad",
            },
        ),
        ("lus-care-plan-type", {"SIP", "SPU", "SPLPTLRV", "VP", "HP", "RP", "GP", "SVP"}),
    ],
)
def test_lus_code_systems(cs_id: str, codes: set[str]) -> None:
    cs = _by_url()[f"{CANONICAL_BASE}/CodeSystem/{cs_id}"]
    found = {c["code"]: c for c in cs["concept"]}
    assert codes <= set(found)
    assert all(c["display"] and c.get("definition") for c in found.values())
    assert cs["content"] == "complete" and cs["caseSensitive"] is True
