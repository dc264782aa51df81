"""Synthea patients load through transactions and are searchable.

The bundles are POSTed to the base as transactions, as a client would. The expected counts
are computed here from the bundles' JSON (the urn:uuid links between their entries, the
codes and the dates), with none of the server's search code.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import shared_path
from tests.support.search_oracle import values
from tests.support.search_oracle.evaluator import date_test

BUNDLES = 40
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
HEART_RATE = "8867-4"  # the example: these 40 patients have no heart rates
BODY_WEIGHT = "29463-7"  # 344 of them
DIABETES = "44054006"
SINCE_2019 = date_test("ge2019")


@dataclass
class Synthea:
    client: TestClient
    resources: list[dict[str, Any]]  # every entry's resource, as in the bundles
    server_id: dict[str, str]  # fullUrl (urn:uuid:…) → the id the server gave


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthea]:
    archive = shared_path("synthea/synthea-r4-40-patients.tgz")
    with tarfile.open(archive, "r:gz") as tar:
        members = sorted((m for m in tar if m.isfile()), key=lambda m: m.name)[:BUNDLES]
        raws = [tar.extractfile(m).read() for m in members]  # type: ignore[union-attr]
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("synthea")),
        max_page_size=1000,
        insecure_no_auth=True,
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        resources: list[dict[str, Any]] = []
        server_id: dict[str, str] = {}
        for raw in raws:
            bundle = orjson.loads(raw)
            response = client.post(
                "/", content=raw, headers={"Content-Type": "application/fhir+json"}
            )
            assert response.status_code == 200, response.text[:500]
            answers = response.json()["entry"]
            assert len(answers) == len(bundle["entry"])
            for entry, answer in zip(bundle["entry"], answers, strict=True):
                assert answer["response"]["status"] == "201 Created"
                location = answer["response"]["location"]  # Type/id/_history/1
                server_id[entry["fullUrl"]] = location.split("/")[1]
                resources.append(entry["resource"])
        yield Synthea(client, resources, server_id)


def _of_type(synthea: Synthea, resource_type: str) -> list[dict[str, Any]]:
    return [r for r in synthea.resources if r["resourceType"] == resource_type]


def _total(client: TestClient, url: str) -> int:
    response = client.get(url + ("&" if "?" in url else "?") + "_summary=count")
    assert response.status_code == 200, response.text[:500]
    total: int = response.json()["total"]
    return total


def _has_code(concept: dict[str, Any] | None, system: str, code: str) -> bool:
    codings = (concept or {}).get("coding") or []
    return any(c.get("system") == system and c.get("code") == code for c in codings)


def _since_2019(synthea: Synthea, patient_url: str | None, code: str) -> int:
    return sum(
        1
        for o in _of_type(synthea, "Observation")
        if (patient_url is None or o.get("subject", {}).get("reference") == patient_url)
        and _has_code(o.get("code"), LOINC, code)
        and any(SINCE_2019(r) for r in values.date_ranges([o.get("effectiveDateTime")]))
    )


def test_every_resource_is_stored(synthea: Synthea) -> None:
    by_type: dict[str, int] = {}
    for resource in synthea.resources:
        by_type[resource["resourceType"]] = by_type.get(resource["resourceType"], 0) + 1
    assert sum(by_type.values()) == 10_579  # fhir-data/README.md, section 6
    for resource_type, count in sorted(by_type.items()):
        assert _total(synthea.client, f"/{resource_type}") == count, resource_type


@pytest.mark.parametrize("code", [BODY_WEIGHT, HEART_RATE])
def test_observations_since_2019_per_patient(synthea: Synthea, code: str) -> None:
    """Observation?patient=…&code=http://loinc.org|…&date=ge2019, for every patient."""
    patients = sorted(_patient_urls(synthea))
    assert len(patients) == BUNDLES
    seen = 0
    for url in patients:
        expected = _since_2019(synthea, url, code)
        query = f"/Observation?patient={synthea.server_id[url]}&code={LOINC}|{code}&date=ge2019"
        assert _total(synthea.client, query) == expected, query
        seen += expected
    everyone = _total(synthea.client, f"/Observation?code={LOINC}|{code}&date=ge2019")
    assert everyone == _since_2019(synthea, None, code) == seen
    if code == BODY_WEIGHT:
        assert 0 < seen < 344  # the date criterion selects: some, not all


def _patient_urls(synthea: Synthea) -> set[str]:
    return {f"urn:uuid:{r['id']}" for r in _of_type(synthea, "Patient")}


def test_chained_and_reverse_chained(synthea: Synthea) -> None:
    patient = _of_type(synthea, "Patient")[0]
    family = patient["name"][0]["family"]
    same_family = {
        f"urn:uuid:{p['id']}"
        for p in _of_type(synthea, "Patient")
        if any(values.fold(n.get("family", "")).startswith(values.fold(family)) for n in p["name"])
    }
    expected = sum(
        1
        for o in _of_type(synthea, "Observation")
        if o["subject"]["reference"] in same_family and _has_code(o["code"], LOINC, BODY_WEIGHT)
    )
    query = f"/Observation?patient.family={family}&code={LOINC}|{BODY_WEIGHT}"
    assert _total(synthea.client, query) == expected > 0
    diabetic = {
        c["subject"]["reference"]
        for c in _of_type(synthea, "Condition")
        if _has_code(c.get("code"), SNOMED, DIABETES)
    }
    query = f"/Patient?_has:Condition:patient:code={SNOMED}|{DIABETES}"
    assert _total(synthea.client, query) == len(diabetic)


def test_encounters_of_a_patient_by_period_and_include(synthea: Synthea) -> None:
    url = sorted(_patient_urls(synthea))[0]
    rid = synthea.server_id[url]
    before_2000 = date_test("lt2000-01-01")
    expected = sum(
        1
        for e in _of_type(synthea, "Encounter")
        if e["subject"]["reference"] == url
        and any(before_2000(r) for r in values.date_ranges([e.get("period")]))
    )
    assert _total(synthea.client, f"/Encounter?patient=Patient/{rid}&date=lt2000-01-01") == expected
    page = synthea.client.get(
        f"/Encounter?patient={rid}&_include=Encounter:patient&_count=1000"
    ).json()
    modes = [e["search"]["mode"] for e in page["entry"]]
    assert modes.count("include") == 1
    assert modes.count("match") == sum(
        1 for e in _of_type(synthea, "Encounter") if e["subject"]["reference"] == url
    )
