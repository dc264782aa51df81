"""Every resource of the official R4 examples package: PUT with its id, read back equal.

Over HTTP against a real server process. `meta` is ignored (the server sets versionId and
lastUpdated); everything else must come back exactly as sent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import read_tgz_json, shared_path
from tests.support.server_process import ServerProcess

# Official examples that break a rule of R4 itself: the server must refuse them (400).
INVALID_EXAMPLES = {
    # 68 characters; an id has at most 64 (datatypes.html#id)
    ("SearchParameter", "questionnaireresponse-extensions-QuestionnaireResponse-item-subject"),
}


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


@pytest.mark.e2e
def test_every_official_example_round_trips(server: ServerProcess) -> None:
    archive = shared_path("examples/hl7.fhir.r4.examples-4.0.1.tgz")
    failures: list[str] = []
    stored = 0
    with httpx.Client(base_url=server.base, timeout=60) as http:
        for name, resource in read_tgz_json(archive):
            if not isinstance(resource, dict) or "resourceType" not in resource:
                continue  # package.json
            rtype, rid = resource["resourceType"], resource.get("id")
            if rid is None:
                failures.append(f"{name}: no id")
                continue
            response = http.put(f"/{rtype}/{rid}", json=resource)
            if (rtype, rid) in INVALID_EXAMPLES:
                if response.status_code != 400:
                    failures.append(f"{name}: invalid example accepted ({response.status_code})")
                continue
            if response.status_code not in (200, 201):
                failures.append(f"{name}: PUT {response.status_code} {response.text[:300]}")
                continue
            back = http.get(f"/{rtype}/{rid}")
            if back.status_code != 200 or _without_meta(back.json()) != _without_meta(resource):
                failures.append(f"{name}: read back differs")
                continue
            stored += 1
    assert not failures, f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:20])
    assert stored > 5200, stored
