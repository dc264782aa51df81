"""Every resource of the official R4 examples package: PUT with its id, read back equal.

Over HTTP against a real server process. `meta` is ignored (the server sets versionId and
lastUpdated); everything else must come back exactly as sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import read_tgz_json, shared_path
from tests.support.server_process import ServerProcess

# Official examples that break a rule of R4 itself: the server must refuse them (400).
INVALID_EXAMPLES = {
    # 68 characters; an id has at most 64 (datatypes.html#id)
    ("SearchParameter", "questionnaireresponse-extensions-QuestionnaireResponse-item-subject"),
}
CLIENTS = 8


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


async def _round_trip(http: httpx.AsyncClient, name: str, resource: dict[str, Any]) -> str | None:
    """None when the example went in and came back equal, else what went wrong."""
    rtype, rid = resource["resourceType"], resource.get("id")
    if rid is None:
        return f"{name}: no id"
    response = await http.put(
        f"/{rtype}/{rid}",
        content=orjson.dumps(resource),
        headers={"Content-Type": "application/fhir+json"},
    )
    if (rtype, rid) in INVALID_EXAMPLES:
        return None if response.status_code == 400 else f"{name}: invalid example accepted"
    if response.status_code not in (200, 201):
        return f"{name}: PUT {response.status_code} {response.text[:300]}"
    back = await http.get(f"/{rtype}/{rid}")
    if back.status_code != 200 or _without_meta(orjson.loads(back.content)) != _without_meta(
        resource
    ):
        return f"{name}: read back differs"
    return None


@pytest.mark.e2e
def test_every_official_example_round_trips(server: ServerProcess) -> None:
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    examples = [
        (name, resource)
        for name, resource in read_tgz_json(archive)
        if isinstance(resource, dict) and "resourceType" in resource  # not package.json
    ]

    async def run() -> list[str | None]:
        limit = asyncio.Semaphore(CLIENTS)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:

            async def one(name: str, resource: dict[str, Any]) -> str | None:
                async with limit:
                    return await _round_trip(http, name, resource)

            return await asyncio.gather(*(one(n, r) for n, r in examples))

    results = asyncio.run(run())
    failures = [r for r in results if r is not None]
    assert not failures, f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:20])
    assert len(results) > 5200, len(results)
