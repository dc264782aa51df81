"""Contained resources are visible exactly when their containers are (search.html#contained
with security on), on either store (FHIR_SERVER_TEST_STORE=postgres): an organisation-
scoped caller finds contained resources only in containers it may read, a caller whose
scopes do not reach the container's type finds none, and `total` is left out whenever
a match could have been left out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.config import Settings
from tests.api.security.conftest import BASE
from tests.support import postgres

HSA = "urn:oid:1.2.752.29.4.19"
WARD, OTHER_WARD = "SE2321000016-AVD7", "SE2321000016-AVD9"


@pytest.fixture
def secure_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database = postgres.store_for_test(request)
    return Settings(
        **database,
        data_dir=tmp_path / "data",
        max_body_bytes=1_000_000,
        insecure_no_auth=False,
        publish_definitions=False,
    )


def _weight(patient: str, performer: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Vikt"},
        "subject": {"reference": f"Patient/{patient}"},
        "performer": [{"reference": "#nurse"}],
        "contained": [
            {"resourceType": "Practitioner", "id": "nurse", "name": [{"family": performer}]}
        ],
    }


@pytest.fixture
def world(create: Callable[[dict[str, Any]], str]) -> dict[str, str]:
    ids = {
        "ward": create(
            {"resourceType": "Organization", "identifier": [{"system": HSA, "value": WARD}]}
        ),
        "other": create(
            {"resourceType": "Organization", "identifier": [{"system": HSA, "value": OTHER_WARD}]}
        ),
        "pa": create({"resourceType": "Patient", "name": [{"family": "Synlig"}]}),
        "pb": create({"resourceType": "Patient", "name": [{"family": "Hemligsson"}]}),
    }
    for patient, ward in (("pa", "ward"), ("pb", "other")):
        create(
            {
                "resourceType": "Encounter",
                "status": "in-progress",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": f"Patient/{ids[patient]}"},
                "serviceProvider": {"reference": f"Organization/{ids[ward]}"},
            }
        )
    ids["hidden"] = create(_weight(ids["pb"], "Berg"))  # stored first
    ids["seen"] = create(_weight(ids["pa"], "Berg"))
    return ids


def _get(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    bundle: dict[str, Any] = answer.json()
    return bundle


def _urls(bundle: dict[str, Any]) -> list[str]:
    return [e["fullUrl"][len(BASE) + 1 :] for e in bundle.get("entry", [])]


def test_an_organisation_finds_contained_resources_of_visible_containers_only(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    ward = token_for("system/*.rs", organisation=WARD)
    # the ward cannot read the other patient's weight, nor what it contains
    assert secure.get(f"/Observation/{world['hidden']}", headers=ward).status_code == 404
    containers = _get(secure, "/Practitioner?name=berg&_contained=true", ward)
    assert _urls(containers) == [f"Observation/{world['seen']}"]
    assert "total" not in containers  # what was left out must not be counted
    units = _get(secure, "/Practitioner?name=berg&_contained=true&_containedType=contained", ward)
    assert _urls(units) == [f"Observation/{world['seen']}#nurse"]
    assert "Hemligsson" not in str(units) and "total" not in units
    # everyone's view: both, and the total
    everyone = token_for("system/*.rs")
    both = _get(secure, "/Practitioner?name=berg&_contained=true", everyone)
    assert _urls(both) == [f"Observation/{world['hidden']}", f"Observation/{world['seen']}"]
    assert both["total"] == 2


def test_scopes_must_reach_the_container(
    secure: TestClient, token_for: Any, world: dict[str, str]
) -> None:
    # may search Practitioners but not Observations: the containers stay out
    practitioners = token_for("system/Practitioner.rs")
    for returns in ("container", "contained"):
        bundle = _get(
            secure,
            f"/Practitioner?name=berg&_contained=true&_containedType={returns}",
            practitioners,
        )
        assert _urls(bundle) == [] and "total" not in bundle
    # may search Observations only: no Practitioner search at all
    observations = token_for("system/Observation.rs")
    answer = secure.get("/Practitioner?name=berg&_contained=true", headers=observations)
    assert answer.status_code == 403, answer.text
