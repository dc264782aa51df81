"""Our own profiles (profiles/, terminology/ at the repository root), when present: every
StructureDefinition gets a snapshot and every example validates against the profiles it
claims. Skips until the profiles have landed in this checkout."""

from __future__ import annotations

import json

import pytest

from fhir_server.conformance.sources import project_folders
from fhir_server.definitions import load_definitions
from fhir_server.validation.profile import load_profile_validator


def _examples() -> list[tuple[str, dict]]:
    out = []
    for folder in project_folders():
        for path in sorted(folder.rglob("examples/*.json")):
            resource = json.loads(path.read_text())
            if resource.get("resourceType") == "Bundle":
                for index, entry in enumerate(resource.get("entry", [])):
                    if "resource" in entry:
                        out.append((f"{path.name}#{index}", entry["resource"]))
            else:
                out.append((path.name, resource))
    return out


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def ours():
    if not project_folders():
        pytest.skip("profiles/ and terminology/ are not in this checkout yet")
    return load_profile_validator(load_definitions())


def test_every_profile_has_a_snapshot(ours):
    urls = [sd["url"] for sd in ours.registry.local_resources("StructureDefinition")]
    assert urls
    assert [u for u in urls if ours.tree(u) is None] == []


@pytest.mark.skipif(not EXAMPLES, reason="no examples under profiles/ yet")
@pytest.mark.parametrize(("name", "resource"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_validates(ours, name, resource):
    for profile in resource.get("meta", {}).get("profile", []):
        assert ours.tree(profile) is not None, profile
        errors = ours.validate(resource, profile).errors
        assert errors == [], (profile, errors)
