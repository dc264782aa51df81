"""Synthea transaction Bundles repeated with fresh ids: the search benchmark's data.

The 40 Synthea patients (`../shared/fhir-data/synthea/`) are one transaction Bundle each,
~10 600 resources together. A *unit* is one bundle in one copy: (copy, bundle number).
Copy k of a bundle gets new ids for every entry, derived from (k, bundle, old id), so a
unit always gets the same ids (a resumed load finds what it already stored). Every
`urn:uuid:` reference becomes `Type/<new id>`, like a server does for a transaction;
other occurrences of an old id (the Synthea MR identifier carries the patient's id)
take the new id too. Organizations and Practitioners that several bundles share become
a copy per bundle, as plain POST entries do.

Copies keep the realistic shape of the data (per patient: encounters, observations,
claims, ...; codes and dates as Synthea made them). Family names vary per copy (copy 0
keeps Synthea's, copy k is "<Swedish name>-<Synthea name>"), so a family name matches a
handful of patients rather than one per copy.
"""

from __future__ import annotations

import re
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from patients import FAMILY

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fhir-data"
SYNTHEA = SHARED / "synthea" / "synthea-r4-40-patients.tgz"

# bench/patients.py's family names: with Synthea's 40 names 1 + 18 variants each
SWEDISH_FAMILY = tuple(FAMILY)

_NAMESPACE = uuid.UUID("5a1b7c3e-0d2f-4e6a-9b8c-7d6e5f4a3b2c")
# a whole JSON string that is a uuid or a urn:uuid (the leading quote makes the scan fast)
_UUID = re.compile(rb'"(?:urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


@dataclass(frozen=True, slots=True)
class Bundle:
    """One Synthea bundle as text, with what a copy needs to know of it."""

    number: int
    name: str
    text: bytes
    types: dict[str, str]  # old id -> resource type, for every entry
    patient_id: str  # the old id of its Patient
    size: int  # entries


def read_bundles(path: Path = SYNTHEA) -> list[Bundle]:
    """The bundles of the archive in name order (the order units are loaded in)."""
    raw: list[tuple[str, bytes]] = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                handle = tar.extractfile(member)
                assert handle is not None
                raw.append((Path(member.name).name, handle.read()))
    raw.sort()
    bundles = []
    for number, (name, text) in enumerate(raw):
        data = orjson.loads(text)
        types = {}
        patient = ""
        for entry in data["entry"]:
            resource = entry["resource"]
            types[resource["id"]] = resource["resourceType"]
            if resource["resourceType"] == "Patient":
                patient = resource["id"]
        bundles.append(Bundle(number, name, text, types, patient, len(data["entry"])))
    return bundles


def new_id(copy: int, bundle: int, old: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{copy}/{bundle}/{old}"))


def family_name(copy: int, bundle: int, family: str) -> str:
    if copy == 0:
        return family
    return f"{SWEDISH_FAMILY[(copy + bundle) % len(SWEDISH_FAMILY)]}-{family}"


def units(bundles: list[Bundle], resources: int) -> Iterator[tuple[int, Bundle]]:
    """(copy, bundle) in load order until at least `resources` resources are covered."""
    covered = 0
    copy = 0
    while covered < resources:
        for bundle in bundles:
            if covered >= resources:
                return
            yield copy, bundle
            covered += bundle.size
        copy += 1


def copy_of(copy: int, bundle: Bundle) -> list[dict[str, Any]]:
    """The bundle's resources with fresh ids and rewritten references, in entry order."""
    mapping: dict[bytes, bytes] = {}
    for old, rtype in bundle.types.items():
        fresh = new_id(copy, bundle.number, old).encode()
        mapping[b'"' + old.encode() + b'"'] = b'"' + fresh + b'"'
        mapping[b'"urn:uuid:' + old.encode() + b'"'] = b'"' + rtype.encode() + b"/" + fresh + b'"'

    def replace(match: re.Match[bytes]) -> bytes:
        whole = match.group(0)
        found = mapping.get(whole)
        if found is not None:
            return found
        # an unknown urn:uuid (none in Synthea) or a uuid that is no entry: keep it
        return whole

    text = _UUID.sub(replace, bundle.text)
    resources = [entry["resource"] for entry in orjson.loads(text)["entry"]]
    for resource in resources:
        if resource["resourceType"] == "Patient":
            for name in resource.get("name", []):
                if isinstance(name.get("family"), str):
                    name["family"] = family_name(copy, bundle.number, name["family"])
    return resources
