"""Synthea patients (transaction Bundles written by another tool) load whole and linked."""

from __future__ import annotations

import tarfile
from functools import cache

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.interactions.references import collect_references
from tests.conftest import shared_path

BUNDLES = 3


@cache
def _bundles() -> list[bytes]:
    archive = shared_path("synthea/synthea-r4-40-patients.tgz")
    out = []
    with tarfile.open(archive, "r:gz") as tar:
        members = sorted((m for m in tar if m.isfile()), key=lambda m: m.name)
        for member in members[:BUNDLES]:
            handle = tar.extractfile(member)
            assert handle is not None
            out.append(orjson.dumps(orjson.loads(handle.read())))  # compact
    return out


@pytest.mark.parametrize("index", range(BUNDLES))
def test_synthea_transaction_loads_linked(client: TestClient, index: int) -> None:
    raw = _bundles()[index]
    bundle = orjson.loads(raw)
    response = client.post("/", content=raw)
    assert response.status_code == 200, response.text[:500]
    entries = response.json()["entry"]
    assert len(entries) == len(bundle["entry"])
    assert all(e["response"]["status"] == "201 Created" for e in entries)
    stored = {e["response"]["location"].split("/_history")[0]: e["resource"] for e in entries}
    for resource in stored.values():
        references: set[str] = set()
        collect_references(resource, references)
        for reference in references:
            assert not reference.startswith("urn:uuid:"), reference
            if not reference.startswith("#"):
                # every link points at a resource of the same bundle, now stored
                assert reference in stored, reference
