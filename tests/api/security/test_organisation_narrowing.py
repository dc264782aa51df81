"""Organisation visibility narrows searches in the store, through HTTP, on either store
(FHIR_SERVER_TEST_STORE=postgres): pages are full, `total` counts only what the caller may
see, and nothing a search can reach (`_include`, `_revinclude`, chains, `_has`, history,
`$everything`, compartment searches) lets an invisible resource through or tells it exists.

The world: a hospital ward (the caller) with 30 stays of patient A; another ward with 100
stays of patient B, stored first, so that every search in store order meets the 100
invisible ones before the first visible one (a page filtered afterwards would be empty).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.config import Settings
from tests.support import postgres

HSA = "urn:oid:1.2.752.29.4.19"
KOMMUNKOD = "urn:oid:1.2.752.129.2.2.1.17"
WARD, OTHER_WARD, SOLNA = "SE2321000016-AVD7", "SE2321000016-AVD9", "0184"
READ_ALL = "system/*.rs"
SECRET = "Hemligsson"  # patient B's name: must never reach the ward
VISIBLE, INVISIBLE = 30, 100


@pytest.fixture
def secure_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database = postgres.store_for_test(request)
    return Settings(
        **database,
        data_dir=tmp_path / "data",
        max_body_bytes=4_000_000,
        insecure_no_auth=False,
        publish_definitions=False,
    )


def _stay(patient: str, provider: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{patient}"},
        "serviceProvider": {"reference": f"Organization/{provider}"},
    }


def _weight(patient: str, performer: str | None = None) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Vikt"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if performer is not None:
        observation["performer"] = [{"reference": f"Patient/{performer}"}]
    return observation


@pytest.fixture
def world(
    secure: TestClient, token_for: Any, create: Callable[[dict[str, Any]], str]
) -> dict[str, Any]:
    admin = token_for("system/*.cruds")

    def many(resources: list[dict[str, Any]]) -> list[str]:
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                for r in resources
            ],
        }
        answer = secure.post("/", json=bundle, headers=admin)
        assert answer.status_code == 200, answer.text
        locations = [e["response"]["location"] for e in answer.json()["entry"]]
        return [location.split("/")[1] for location in locations]

    def org(system: str, value: str) -> str:
        return create(
            {"resourceType": "Organization", "identifier": [{"system": system, "value": value}]}
        )

    ids: dict[str, Any] = {
        "ward": org(HSA, WARD),
        "other-ward": org(HSA, OTHER_WARD),
        "solna": org(KOMMUNKOD, SOLNA),
    }
    ids["pb"] = create({"resourceType": "Patient", "name": [{"family": SECRET}]})
    ids["pa"] = create({"resourceType": "Patient", "name": [{"family": "Synlig"}]})
    # invisible first: in store order they come before every visible one
    ids["invisible-stays"] = many([_stay(ids["pb"], ids["other-ward"])] * INVISIBLE)
    ids["invisible-weights"] = many([_weight(ids["pb"])] * INVISIBLE)
    ids["visible-stays"] = many([_stay(ids["pa"], ids["ward"])] * VISIBLE)
    ids["visible-weights"] = many([_weight(ids["pa"])] * VISIBLE)
    # about patient A, but a notice between two other organisations: not the ward's
    ids["other-notice"] = create(
        {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": f"Patient/{ids['pa']}"},
            "sender": {"reference": f"Organization/{ids['other-ward']}"},
            "recipient": [{"reference": f"Organization/{ids['solna']}"}],
            "payload": [{"contentString": SECRET}],
        }
    )
    ids["own-notice"] = create(
        {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": f"Patient/{ids['pa']}"},
            "encounter": {"reference": f"Encounter/{ids['visible-stays'][0]}"},
            "sender": {"reference": f"Organization/{ids['ward']}"},
            "recipient": [{"identifier": {"system": KOMMUNKOD, "value": SOLNA}}],
        }
    )
    # patient A's weight, measured by patient B (a performer): visible through A only
    ids["mixed-weight"] = create(_weight(ids["pa"], performer=ids["pb"]))
    return ids


def _ids(bundle: dict[str, Any], mode: str | None = None) -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if mode is None or e.get("search", {}).get("mode") == mode
    ]


def _next(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link", []):
        if link["relation"] == "next":
            return str(link["url"])
    return None


def _pages(client: TestClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    pages = []
    next_url: str | None = url
    while next_url is not None and len(pages) < 20:
        answer = client.get(next_url, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        next_url = _next(pages[-1])
    return pages


@pytest.mark.parametrize("resource_type", ["Encounter", "Observation"])
def test_full_pages_and_a_true_total(
    secure: TestClient, token_for: Any, world: dict[str, Any], resource_type: str
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    pages = _pages(secure, ward, f"/{resource_type}?_count=10")
    if resource_type == "Encounter":
        expected = world["visible-stays"]
    else:
        expected = [*world["visible-weights"], world["mixed-weight"]]
    # full pages, though the 100 invisible ones come first in store order: the store found
    # only visible ones (a page filtered afterwards would have come back empty)
    sizes = [10, 10, 10] if resource_type == "Encounter" else [10, 10, 10, 1]
    assert [len(_ids(p)) for p in pages] == sizes
    assert {p["total"] for p in pages} == {len(expected)}
    assert [rid for p in pages for rid in _ids(p)] == expected
    assert SECRET not in str(pages)
    # the next links carry the search on; the last page has none, the others a previous
    assert all("_count=10" in str(_next(p)) for p in pages[:-1])
    assert all(any(link["relation"] == "previous" for link in p["link"]) for p in pages[1:])
    # an unrestricted caller sees the whole store
    everyone = secure.get(f"/{resource_type}?_count=1", headers=token_for(READ_ALL)).json()
    assert everyone["total"] == INVISIBLE + len(expected)


def test_include_and_revinclude_reach_only_visible_resources(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    pa, pb = world["pa"], world["pb"]
    # the weight patient B performed: B is never included, A is
    found = secure.get(
        f"/Observation?_id={world['mixed-weight']}&_include=Observation:performer"
        "&_include=Observation:subject",
        headers=ward,
    )
    assert found.status_code == 200
    assert _ids(found.json(), "include") == [pa]
    assert SECRET not in found.text  # (its id is in the weight: that is the weight's)
    # patient A's notices: the ward's own, never the one between two other organisations
    rev = secure.get(f"/Patient?_id={pa}&_revinclude=Communication:subject", headers=ward).json()
    assert _ids(rev, "include") == [world["own-notice"]]
    # iterated: stays of A, their notices, those notices' patients
    iterated = secure.get(
        f"/Encounter?_id={world['visible-stays'][0]}&_revinclude=Communication:encounter"
        "&_include:iterate=Communication:subject&_include:iterate=Observation:performer"
        "&_revinclude:iterate=Observation:subject",
        headers=ward,
    ).json()
    included = set(_ids(iterated, "include"))
    assert world["own-notice"] in included and pa in included
    assert world["other-notice"] not in included and pb not in included
    assert SECRET not in str(iterated)
    # an unrestricted caller gets both (the includes themselves work)
    everyone = secure.get(
        f"/Patient?_id={pa}&_revinclude=Communication:subject", headers=token_for(READ_ALL)
    ).json()
    assert set(_ids(everyone, "include")) == {world["own-notice"], world["other-notice"]}


def test_chains_and_has_do_not_match_through_invisible_resources(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    everyone = token_for(READ_ALL)
    # the weight is visible (patient A's); that its performer is called Hemligsson is not
    chain = f"/Observation?performer:Patient.name={SECRET}"
    assert _ids(secure.get(chain, headers=everyone).json()) == [world["mixed-weight"]]
    answer = secure.get(chain, headers=ward)
    assert answer.status_code == 200
    assert "entry" not in answer.json() and answer.json()["total"] == 0
    # a chain through a visible patient still works
    visible = secure.get("/Observation?performer:Patient.name=Synlig", headers=ward).json()
    assert visible["total"] == 0  # A performed nothing
    by_subject = secure.get("/Encounter?subject:Patient.name=Synlig&_count=1", headers=ward)
    assert by_subject.json()["total"] == VISIBLE
    # the stays of another ward cannot be found by asking for that ward's identifier
    other = secure.get(f"/Encounter?service-provider.identifier={OTHER_WARD}", headers=ward)
    assert other.json()["total"] == 0
    # _has: patient A has a notice to Solna, but not one the ward may see
    has = f"/Patient?_has:Communication:subject:recipient=Organization/{world['solna']}"
    assert _ids(secure.get(has, headers=everyone).json()) == [world["pa"]]
    assert secure.get(has, headers=ward).json()["total"] == 0
    # the ward's own notice to Solna is logical (by kommunkod): found through _has
    own = "/Patient?_has:Communication:subject:recipient:identifier=" + SOLNA
    assert _ids(secure.get(own, headers=ward).json()) == [world["pa"]]
    # _has on patient B's weights finds nothing of B
    hidden = secure.get("/Patient?_has:Observation:subject:code:text=Vikt", headers=ward)
    assert _ids(hidden.json()) == [world["pa"]]


def test_history_is_narrowed_with_full_pages(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    pages = _pages(secure, ward, "/Encounter/_history?_count=10")
    assert [len(_ids(p)) for p in pages] == [10, 10, 10]
    assert pages[0]["total"] == VISIBLE
    assert sorted(rid for p in pages for rid in _ids(p)) == sorted(world["visible-stays"])
    system = _pages(secure, ward, "/_history?_count=50")
    seen = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for p in system
        for e in p.get("entry", [])
    }
    assert ("Patient", world["pb"]) not in seen
    assert ("Communication", world["other-notice"]) not in seen
    assert not seen & {("Encounter", rid) for rid in world["invisible-stays"]}
    assert ("Patient", world["pa"]) in seen and ("Organization", world["solna"]) in seen
    assert SECRET not in str(system)
    # the whole history of an invisible resource is as absent as the resource
    assert "entry" not in secure.get(f"/Patient/{world['pb']}/_history", headers=ward).json()


def test_everything_and_compartment_searches(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    pa, pb = world["pa"], world["pb"]
    everything = secure.get(f"/Patient/{pa}/$everything?_count=1000", headers=ward)
    assert everything.status_code == 200
    ids = set(_ids(everything.json()))
    assert {pa, world["own-notice"], world["mixed-weight"], world["ward"]} <= ids
    assert world["other-notice"] not in ids and pb not in ids
    assert SECRET not in everything.text
    assert secure.get(f"/Patient/{pb}/$everything", headers=ward).status_code == 404
    every_patient = secure.get("/Patient/$everything?_count=1000", headers=ward)
    assert pb not in set(_ids(every_patient.json())) and SECRET not in every_patient.text
    # compartment searches
    notices = secure.get(f"/Patient/{pa}/Communication", headers=ward).json()
    assert _ids(notices) == [world["own-notice"]] and notices["total"] == 1
    # in B's compartment only the weight visible through A (B performed it): not B's own
    weights = secure.get(f"/Patient/{pb}/Observation", headers=ward).json()
    assert _ids(weights) == [world["mixed-weight"]] and weights["total"] == 1
    stays = secure.get(f"/Patient/{pa}/Encounter?_count=10", headers=ward).json()
    assert len(_ids(stays)) == 10 and stays["total"] == VISIBLE


def test_reads_agree_with_searches(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD)
    for path in (
        f"/Patient/{world['pb']}",
        f"/Encounter/{world['invisible-stays'][0]}",
        f"/Observation/{world['invisible-weights'][0]}",
        f"/Communication/{world['other-notice']}",
        f"/Communication/{world['other-notice']}/_history/1",
    ):
        answer = secure.get(path, headers=ward)
        assert answer.status_code == 404, path
        assert SECRET not in answer.text
    for path in (
        f"/Patient/{world['pa']}",
        f"/Observation/{world['mixed-weight']}",
        f"/Communication/{world['own-notice']}",
        f"/Organization/{world['other-ward']}",  # not patient data
    ):
        assert secure.get(path, headers=ward).status_code == 200, path


def test_the_audit_trail_shows_a_unit_its_own_accesses_only(
    secure: TestClient, token_for: Any, world: dict[str, Any]
) -> None:
    ward = token_for(READ_ALL, organisation=WARD, subject="ward-user")
    other = token_for(READ_ALL, organisation=OTHER_WARD, subject="other-user")
    # both read something of patient A: the ward A itself, the other ward its notice about A
    assert secure.get(f"/Patient/{world['pa']}", headers=ward).status_code == 200
    notice = f"/Communication/{world['other-notice']}"
    assert secure.get(notice, headers=other).status_code == 200
    auditor = token_for("system/AuditEvent.rs")
    deadline = time.monotonic() + 5
    everything: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # the read events are written in batches
        bundle = secure.get("/AuditEvent?_count=1000", headers=auditor).json()
        everything = [e["resource"] for e in bundle.get("entry", [])]
        agents = {a.get("altId") for e in everything for a in e["agent"]}
        if {WARD, OTHER_WARD} <= agents:
            break
        time.sleep(0.1)
    found = secure.get("/AuditEvent?_count=1000", headers=ward).json()
    own = [e["resource"] for e in found.get("entry", [])]
    assert own and found["total"] == len(own)
    assert all(any(a.get("altId") == WARD for a in e["agent"]) for e in own)
    assert len(own) < len(everything)
    assert "other-user" not in str(found)
    # nor does another unit's event about patient A show through A's compartment
    about_a = secure.get(f"/AuditEvent?patient={world['pa']}", headers=ward).json()
    assert about_a.get("entry") and all(
        any(a.get("altId") == WARD for a in e["resource"]["agent"])
        for e in about_a.get("entry", [])
    )
