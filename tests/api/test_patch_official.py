"""The official FHIRPath Patch cases through HTTP: PUT the input, PATCH the diff, read back.

Each case's expected output must be what the server stores; the error case must be refused
and leave the stored resource as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.patch.json_patch import json_equal
from tests.conftest import SHARED

CASES_FILE = SHARED / "patch" / "fhir-patch-tests.xml"


def _cases() -> list[Any]:
    if not CASES_FILE.exists():
        reason = f"official FHIRPath Patch cases not present ({CASES_FILE})"
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=reason))]
    from tests.support.fhir_xml import parse_test_cases

    return [pytest.param(case, id=case["name"]) for case in parse_test_cases(str(CASES_FILE))]


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


@pytest.mark.parametrize("case", _cases())
def test_official_case_over_http(client: TestClient, case: dict[str, Any]) -> None:
    resource = dict(case["input"])
    rtype = resource["resourceType"]
    rid = resource.setdefault("id", "patched")
    stored = client.put(f"/{rtype}/{rid}", json=resource)
    assert stored.status_code == 201, stored.text
    before = client.get(f"/{rtype}/{rid}").json()
    response = client.patch(f"/{rtype}/{rid}", json=case["diff"])
    if "error" in case:
        assert response.status_code in (400, 422), response.text
        assert response.json()["resourceType"] == "OperationOutcome"
        assert client.get(f"/{rtype}/{rid}").json() == before
        return
    assert response.status_code == 200, response.text
    result = client.get(f"/{rtype}/{rid}").json()
    assert json_equal(_content(result), _content(case["output"])), (result, case["output"])
