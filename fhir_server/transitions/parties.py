"""The parties of a stay: who receives a notice, what kind of unit an organisation is.

The receivers of an inskrivningsmeddelande are the units it addresses plus the ones the law
points at: the municipality where the patient is registered (folkbokförd), found by the
kommunkod of the registered address, and the primary-care unit where the patient is listed
(Patient.generalPractitioner). A municipality with no Organization yet gets one, named
from the official municipality list, so that a patient registered anywhere in Sweden is
planned with their own municipality.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from fhir_server.definitions.content import CANONICAL_BASE, conformance_raw
from fhir_server.ids import new_id
from fhir_server.outcome import error
from fhir_server.storage.port import Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions.resources import (
    Resource,
    coded,
    data_of,
    extension,
    identifier_value,
    references,
    split,
)
from fhir_server.validation.profile.swedish import HSA_ID_SYSTEMS

MUNICIPALITY_KINDS = frozenset({"kommun", "socialtjanst", "kommunal-halso-och-sjukvard"})
PRIMARY_CARE_KINDS = frozenset({"primarvard", "psykiatrisk-oppenvard"})
NOT_LISTING = MUNICIPALITY_KINDS | {"slutenvard"}
MUNICIPALITY_PROFILE = f"{CANONICAL_BASE}/StructureDefinition/lus-municipality"


@cache
def municipality_names() -> dict[str, str]:
    """kommunkod → name, from the municipality CodeSystem (SCB)."""
    for kind, raw in conformance_raw():
        if kind == "CodeSystem":
            system = orjson.loads(raw)
            if system.get("url") == c.KOMMUNKOD:
                return {str(x["code"]): str(x.get("display", x["code"])) for x in system["concept"]}
    return {}


def kind_of(organization: Resource | None) -> str | None:
    """kommun, primarvard, slutenvard, … from Organization.type, or kommun by kommunkod."""
    if organization is None:
        return None
    kind = coded(organization.get("type", []), c.ORGANIZATION_TYPE)
    if kind is None and identifier_value(organization, c.KOMMUNKOD):
        return "kommun"
    return kind


def is_municipality(organization: Resource | None) -> bool:
    return kind_of(organization) in MUNICIPALITY_KINDS


def is_primary_care(organization: Resource | None) -> bool:
    return kind_of(organization) in PRIMARY_CARE_KINDS


def hsa_id(organization: Resource | None) -> str | None:
    return None if organization is None else identifier_value(organization, *HSA_ID_SYSTEMS)


async def read(tx: Transaction, ref: str | None) -> Resource | None:
    if ref is None:
        return None
    resource_type, rid = split(ref)
    return data_of(await tx.read(resource_type, rid))


def _kommunkod_of_address(address: Any) -> str | None:
    if not isinstance(address, dict):
        return None
    value = extension(address, c.KOMMUNKOD_EXTENSION)
    if isinstance(value, dict) and value.get("system") == c.KOMMUNKOD:
        code = value.get("code")
        return code if isinstance(code, str) else None
    return None


def registered_kommunkod(notice: Resource, patient: Resource | None) -> str | None:
    """The kommunkod of the registered address: the notice's (its legally required content)
    first, else the patient's address that carries one."""
    code = _kommunkod_of_address(extension(notice, c.REGISTERED_ADDRESS_EXTENSION))
    if code is not None or patient is None:
        return code
    for address in patient.get("address", []):
        code = _kommunkod_of_address(address)
        if code is not None:
            return code
    return None


async def municipality(tx: Transaction, kommunkod: str) -> str:
    """The Organization of a municipality by its kommunkod, made when there is none."""
    found = await tx.find("Organization", [("identifier", f"{c.KOMMUNKOD}|{kommunkod}")])
    if found:
        return f"Organization/{sorted(v.id for v in found)[0]}"
    name = municipality_names().get(kommunkod)
    if name is None:
        raise error(
            422,
            "business-rule",
            f"'{kommunkod}' is not a kommunkod of the official municipality list",
        )
    rid = new_id()
    await tx.write(
        "Organization",
        rid,
        {
            "resourceType": "Organization",
            "id": rid,
            "meta": {"profile": [MUNICIPALITY_PROFILE]},
            "identifier": [{"system": c.KOMMUNKOD, "value": kommunkod}],
            "active": True,
            "type": [
                {"coding": [{"system": c.ORGANIZATION_TYPE, "code": "kommun", "display": "Kommun"}]}
            ],
            "name": f"{name} kommun",
        },
        "POST",
    )
    return f"Organization/{rid}"


async def receivers(tx: Transaction, notice: Resource, patient: Resource | None) -> list[str]:
    """The organisations an inskrivningsmeddelande goes to: the addressed ones, the patient's
    municipality and the primary-care unit where the patient is listed, in that order."""
    found = references(notice.get("recipient", []), "Organization")
    kommunkod = registered_kommunkod(notice, patient)
    if kommunkod is not None:
        organizations = [await read(tx, ref) for ref in found]
        addressed = {identifier_value(o, c.KOMMUNKOD) for o in organizations if o is not None}
        if kommunkod not in addressed:
            found.append(await municipality(tx, kommunkod))
    if patient is not None:
        for ref in references(patient.get("generalPractitioner", []), "Organization"):
            unit = await read(tx, ref)
            # the unit where the patient is listed: primary care unless typed otherwise
            if ref not in found and unit is not None and kind_of(unit) not in NOT_LISTING:
                found.append(ref)
    return list(dict.fromkeys(found))
