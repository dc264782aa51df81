"""HL7 Sweden's base IG: snapshots generated from its differentials, and its examples."""

from __future__ import annotations

import json

import pytest

from fhir_server.conformance import ConformanceRegistry
from fhir_server.conformance.snapshot import element_id, generate_snapshot
from fhir_server.definitions import load_definitions
from tests.conftest import shared_path
from tests.validation.conftest import HL7SE

SE = "http://hl7.se/fhir/ig/base/StructureDefinition/"


def _examples() -> list[str]:
    return [
        "Organization-Organization1.json",
        "Patient-PatientExample1.json",
        "Patient-PatientExample189002029800.json",
        "Patient-PatientExample189602029812.json",
        "Patient-PatientExample196101182803.json",
        "Patient-PatientExample196109732393.json",
        "Patient-PatientExample199002222397.json",
        "Patient-PatientExample200001252386.json",
        "Patient-PatientExample200302022389.json",
        "Patient-PatientExample20210325K069.json",
        "Patient-PatientExample98240301AA06.json",
        "Practitioner-PractitionerExample1.json",
    ]


@pytest.mark.parametrize("name", _examples())
def test_example_validates_against_its_profile(validator, name):
    resource = json.loads((shared_path(HL7SE) / name).read_text())
    profiles = resource.get("meta", {}).get("profile") or [SE + "SEBase" + resource["resourceType"]]
    for profile in profiles:
        assert validator.tree(profile) is not None, profile
        report = validator.validate(resource, profile)
        assert report.errors == [], (profile, report.errors)
        assert report.invariants_checked > 0


def test_every_profile_gets_a_snapshot(validator):
    folder = shared_path(HL7SE)
    urls = [
        json.loads(p.read_text())["url"] for p in sorted(folder.glob("StructureDefinition-*.json"))
    ]
    assert len(urls) == 9
    for url in urls:
        assert validator.registry.structure(url) is not None, validator.registry.problems


def test_sebasepatient_snapshot_has_the_identifier_slices(validator):
    elements = validator.registry.structure(SE + "SEBasePatient")["snapshot"]["element"]
    by_id = {element_id(e): e for e in elements}
    for slice_name in ("personnummer", "samordningsnummer", "nationelltReservnummer"):
        slice_root = by_id[f"Patient.identifier:{slice_name}"]
        assert slice_root["sliceName"] == slice_name
        assert (slice_root["min"], slice_root["max"]) == (0, "1")
        system = by_id[f"Patient.identifier:{slice_name}.system"]
        assert system["min"] == 1
        assert system["patternUri"].endswith(slice_name)
    # the core Patient's elements are all there, in their place, with the profile's changes
    assert by_id["Patient.name"]["max"] == "1"
    assert by_id["Patient.name"]["type"][0]["profile"] == [SE + "SEBaseHumanName"]
    assert [element_id(e) for e in elements].index("Patient.identifier") < [
        element_id(e) for e in elements
    ].index("Patient.identifier:personnummer")
    extension = by_id["Patient.address.extension:officialAddressType"]
    assert extension["type"][0]["profile"] == [SE + "SEBaseAddressPersonExtension"]


# Core profiles whose shipped snapshot the generated one differs from, and why.
_SNAPSHOT_DIFFERENCES = {
    # the official generator expands the children of the extension slice `Question`
    "http://hl7.org/fhir/StructureDefinition/elementdefinition-de",
    # the official generator keeps component.value[x] unsliced where the differential
    # renames it valueQuantity; ours makes the type slice value[x]:valueQuantity
    "http://hl7.org/fhir/StructureDefinition/bp",
}


def test_generated_snapshots_match_the_core_profiles():
    """Each core profile's differential merged onto its base gives its shipped snapshot:
    every element id with the same cardinality and type codes."""
    registry = ConformanceRegistry(load_definitions())
    compared = 0
    mismatched: dict[str, list[str]] = {}
    for sd in registry.core_resources("StructureDefinition"):
        if sd.get("derivation") != "constraint" or "snapshot" not in sd:
            continue
        ours = {element_id(e): e for e in generate_snapshot(sd, registry.structure)}
        problems = []
        for theirs in sd["snapshot"]["element"]:
            mine = ours.get(element_id(theirs))
            if mine is None:
                problems.append(f"missing {element_id(theirs)}")
            elif (mine.get("min"), mine.get("max")) != (theirs.get("min"), theirs.get("max")):
                problems.append(f"cardinality of {element_id(theirs)}")
            elif sorted(t["code"] for t in mine.get("type", [])) != sorted(
                t["code"] for t in theirs.get("type", [])
            ):
                problems.append(f"types of {element_id(theirs)}")
        compared += 1
        if problems:
            mismatched[sd["url"]] = problems[:3]
    assert compared > 400
    assert set(mismatched) == _SNAPSHOT_DIFFERENCES, mismatched
