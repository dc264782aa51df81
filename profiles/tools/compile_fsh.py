"""Compile profiles/fsh with SUSHI and place the JSON where the server reads it.

    python profiles/tools/compile_fsh.py [--sushi PATH]

Needs fsh-sushi 3.x (`npm install fsh-sushi`); it runs offline. SUSHI reads dependencies
from the FHIR package cache (~/.fhir/packages) and needs a snapshot of every parent profile.
HL7 Sweden's base profiles (profiles/hl7se) are differentials only, so this script writes
them to the cache with a snapshot built by a plain merge onto the core snapshot, just
enough for SUSHI to find slices and elements; the committed hl7se files stay unchanged.

Output: CodeSystem/ValueSet → terminology/, StructureDefinition/SearchParameter and the
SubscriptionTopics (Basic) → profiles/, every other instance → profiles/examples/; then
the complete case (CASE) as one transaction Bundle, profiles/examples/Bundle-lus-complete-case.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

from fhir_server.definitions import load_definitions
from fhir_server.definitions.loader import CORE_PACKAGE

ROOT = Path(__file__).resolve().parents[2]
FSH_PROJECT = ROOT / "profiles" / "fsh"
CACHE = Path.home() / ".fhir" / "packages"
HL7SE = ("hl7se.fhir.base", "1.1.0", "http://hl7.se/fhir/ig/base")
CANONICAL_BASE = "https://lus.example.se/fhir"
# The examples that make one complete stay, in the order a hospital system would send them;
# shared parties are created only if no resource with their identifier exists yet.
CASE = (
    "Organization/kalmar-kommun",
    "Organization/medicin-12",
    "Organization/vc-kalmar-centrum",
    "Practitioner/eva-nilsson",
    "PractitionerRole/eva-nilsson-vc",
    "Patient/karin",
    "Encounter/karin-stay",
    "Communication/karin-inskrivningsmeddelande",
    "Task/karin-task-skicka-inskrivningsmeddelande",
    "Task/karin-task-kvittera-kommun",
    "Task/karin-task-paborja-planering",
    "Communication/karin-kvittens-kommun",
    "Communication/karin-kvittens-vc",
    "Task/karin-task-skicka-planeringsunderlag",
    "Communication/karin-planeringsunderlag",
    "Task/karin-task-utse-fast-vardkontakt",
    "CareTeam/karin-careteam",
    "Communication/karin-meddelande",
    "CarePlan/karin-spu",
    "Communication/karin-beraknad-utskrivning-andrad",
    "Communication/karin-utskrivningsklar-1",
    "Communication/karin-utskrivningsklar-aterkallad",
    "Communication/karin-utskrivningsklar-2",
    "Task/karin-task-kalla-till-sip",
    "Communication/karin-sip-kallelse",
    "Task/karin-task-skicka-utskrivningsmeddelande",
    "Communication/karin-utskrivningsmeddelande",
    "CarePlan/karin-sip",
)


# instances that are definitions (profiles/), not examples (profiles/examples/)
DEFINITION_TYPES = ("StructureDefinition", "SearchParameter", "Measure", "OperationDefinition")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sushi", default="sushi", help="the sushi command")
    args = parser.parse_args()
    _prepare_cache()
    subprocess.run([args.sushi, "build", str(FSH_PROJECT)], check=True)
    generated = FSH_PROJECT / "fsh-generated"
    _place(generated / "resources")
    shutil.rmtree(generated)  # its copies would be read as content twice
    _write_case_bundle()


def _prepare_cache() -> None:
    core = CACHE / "hl7.fhir.r4.core#4.0.1"
    if not (core / "package" / "package.json").exists():
        core.mkdir(parents=True, exist_ok=True)
        with tarfile.open(CORE_PACKAGE) as tar:
            tar.extractall(core, filter="data")
    name, version, canonical = HL7SE
    target = CACHE / f"{name}#{version}" / "package"
    shutil.rmtree(target.parent, ignore_errors=True)
    target.mkdir(parents=True)
    manifest = {
        "name": name,
        "version": version,
        "canonical": canonical,
        "fhirVersions": ["4.0.1"],
        "dependencies": {"hl7.fhir.r4.core": "4.0.1"},
        "license": "CC0-1.0",
    }
    (target / "package.json").write_text(json.dumps(manifest))
    for path in sorted((ROOT / "profiles" / "hl7se").glob("*.json")):
        resource = json.loads(path.read_text())
        if resource["resourceType"] == "StructureDefinition":
            resource["snapshot"] = {"element": _snapshot(resource)}
        (target / path.name).write_text(json.dumps(resource))


def _snapshot(sd: dict[str, Any]) -> list[dict[str, Any]]:
    """The base snapshot with the differential laid over it (no constraint checking)."""
    definitions = load_definitions()
    base = definitions.resource_by_url(sd["baseDefinition"])
    assert base is not None, sd["baseDefinition"]
    elements: list[dict[str, Any]] = copy.deepcopy(base["snapshot"]["element"])
    for diff in sd["differential"]["element"]:
        index = _ensure(elements, diff["id"], definitions)
        elements[index].update({k: v for k, v in diff.items() if k != "id"})
    return elements


def _ensure(elements: list[dict[str, Any]], eid: str, definitions: Any) -> int:
    """The index of element `eid`, creating slices and expanding data types as needed."""
    for i, element in enumerate(elements):
        if element["id"] == eid:
            return i
    head, _, last = eid.rpartition(".")
    if ":" in last:  # a new slice: a copy of the sliced element and its children
        name, _, slice_name = last.partition(":")
        sliced = f"{head}.{name}" if head else name
        start = _ensure(elements, sliced, definitions)
        end = _subtree_end(elements, start)
        copies = [
            copy.deepcopy(e) for e in elements[start:end] if ":" not in e["id"][len(sliced) :]
        ]
        for element in copies:
            element["id"] = eid + element["id"][len(sliced) :]
        copies[0]["sliceName"] = slice_name
        copies[0].pop("slicing", None)  # a slice does not re-slice
        elements[end:end] = copies
        return end
    parent = _ensure(elements, head, definitions)
    types = elements[parent].get("type", [])
    kind = types[0]["code"] if types else "Element"
    type_sd = definitions.resource_by_url(f"http://hl7.org/fhir/StructureDefinition/{kind}")
    children = [copy.deepcopy(e) for e in type_sd["snapshot"]["element"][1:]]
    for element in children:
        element["id"] = head + element["id"][len(kind) :]
        element["path"] = elements[parent]["path"] + element["path"][len(kind) :]
    elements[parent + 1 : parent + 1] = children
    for i, element in enumerate(elements):
        if element["id"] == eid:
            return i
    raise KeyError(eid)


def _subtree_end(elements: list[dict[str, Any]], start: int) -> int:
    prefix = elements[start]["id"]
    end = start + 1
    while end < len(elements) and elements[end]["id"].startswith((prefix + ".", prefix + ":")):
        end += 1
    return end


def _place(generated: Path) -> None:
    placed = 0
    for path in sorted(generated.glob("*.json")):
        resource = json.loads(path.read_text())
        kind = resource["resourceType"]
        if kind == "ImplementationGuide":
            continue
        if kind in ("CodeSystem", "ValueSet"):
            folder = ROOT / "terminology"
        elif kind in DEFINITION_TYPES or _is_topic(resource):
            folder = ROOT / "profiles"
        else:
            folder = ROOT / "profiles" / "examples"
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
        (folder / path.name).write_text(text)
        placed += 1
    print(f"placed {placed} resources")


def _write_case_bundle() -> None:
    examples = ROOT / "profiles" / "examples"
    full_urls = {
        key: f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{CANONICAL_BASE}/{key}')}" for key in CASE
    }
    entries = []
    for key in CASE:
        kind, rid = key.split("/")
        resource = json.loads((examples / f"{kind}-{rid}.json").read_text())
        del resource["id"]  # POST: the server assigns ids
        request: dict[str, str] = {"method": "POST", "url": kind}
        identifiers = resource.get("identifier", [])
        if kind in ("Organization", "Practitioner", "Patient") and identifiers:
            first = identifiers[0]
            request["ifNoneExist"] = f"identifier={first['system']}|{first['value']}"
        entries.append(
            {
                "fullUrl": full_urls[key],
                "resource": _relink(resource, full_urls),
                "request": request,
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "id": "lus-complete-case",
        "type": "transaction",
        "timestamp": "2026-02-19T15:00:00+01:00",
        "entry": entries,
    }
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    (examples / "Bundle-lus-complete-case.json").write_text(text)


def _relink(value: Any, full_urls: dict[str, str]) -> Any:
    """References between the case's resources as the fullUrls of their entries."""
    if isinstance(value, dict):
        out = {k: _relink(v, full_urls) for k, v in value.items()}
        if isinstance(out.get("reference"), str) and out["reference"] in full_urls:
            out["reference"] = full_urls[out["reference"]]
        return out
    if isinstance(value, list):
        return [_relink(v, full_urls) for v in value]
    return value


def _is_topic(resource: dict[str, Any]) -> bool:
    codings = resource.get("code", {}).get("coding", [])
    return resource["resourceType"] == "Basic" and any(
        c.get("code") == "SubscriptionTopic" for c in codings
    )


if __name__ == "__main__":
    main()
