"""LUS resources for tests: stays, notices and parties as a hospital, a municipality and a
primary-care unit would send them (profiles/examples/ shows the complete shapes)."""

from __future__ import annotations

from typing import Any

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.transitions import codes as c

SD = f"{CANONICAL_BASE}/StructureDefinition"
IMP = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}


def encounter(
    rid: str,
    patient: str = "Patient/p1",
    *,
    ward: str = "Organization/ward",
    care_type: str = c.SOMATISK,
    start: str = "2026-01-02T10:00:00+01:00",
    status: str = "in-progress",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": rid,
        "meta": {"profile": [f"{SD}/lus-encounter"]},
        "status": status,
        "class": IMP,
        "serviceType": {"coding": [{"system": c.CARE_TYPE, "code": care_type}]},
        "subject": {"reference": patient},
        "period": {"start": start},
        "serviceProvider": {"reference": ward},
    }
    return resource


def notice(
    code: str,
    stay: str,
    sent: str,
    *,
    patient: str = "Patient/p1",
    sender: str | None = "Organization/ward",
    recipients: tuple[str, ...] = (),
    estimated: str | None = None,
    in_response_to: str | None = None,
    kommunkod: str | None = None,
    withdrawn: str | None = None,
    personnummer: str = "191212121212",
    name: str = "Tolvan Tolvansson",
    rid: str | None = None,
) -> dict[str, Any]:
    """A Communication of the LUS notice type `code` about the stay `stay` (Encounter/x),
    with the content its profile requires (an inskrivningsmeddelande: the patient's
    personnummer and name, the registered address with `kommunkod` (default 0880) and the
    estimated discharge; a withdrawal: the withdrawn notice). Receivers as addressed: the
    server adds those the law points at."""
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": c.NOTICE_TYPE, "code": code}]}],
        "subject": {"reference": patient},
        "encounter": {"reference": stay},
        "about": [{"reference": stay}],
        "sent": sent,
        "payload": [{"contentString": f"{code} {sent}"}],
    }
    if rid is not None:
        resource["id"] = rid
    if sender is not None:
        resource["sender"] = {"reference": sender}
    if recipients:
        resource["recipient"] = [{"reference": r} for r in recipients]
    extensions: list[dict[str, Any]] = []
    if code == c.INSKRIVNINGSMEDDELANDE:
        resource["subject"]["identifier"] = {"system": c.PERSONNUMMER, "value": personnummer}
        resource["subject"]["display"] = name
        estimated = estimated or "2026-02-16T12:00:00+01:00"
        kommunkod = kommunkod or "0880"
    if estimated is not None:
        extensions.append({"url": f"{SD}/lus-estimated-discharge", "valueDateTime": estimated})
    if kommunkod is not None:
        address = {
            "extension": [
                {
                    "url": f"{SD}/lus-kommunkod",
                    "valueCoding": {"system": c.KOMMUNKOD, "code": kommunkod},
                }
            ],
            "line": ["Storgatan 1"],
        }
        extensions.append({"url": f"{SD}/lus-registered-address", "valueAddress": address})
    if withdrawn is not None:
        extensions.append(
            {"url": f"{SD}/lus-withdrawn-notice", "valueReference": {"reference": withdrawn}}
        )
    if extensions:
        resource["extension"] = extensions
    if in_response_to is not None:
        resource["inResponseTo"] = [{"reference": in_response_to}]
    return resource


def organization(
    rid: str, kind: str, *, hsa_id: str | None = None, kommunkod: str | None = None, name: str = ""
) -> dict[str, Any]:
    identifiers = []
    if hsa_id is not None:
        identifiers.append({"system": c.HSA_ID, "value": hsa_id})
    if kommunkod is not None:
        identifiers.append({"system": c.KOMMUNKOD, "value": kommunkod})
    return {
        "resourceType": "Organization",
        "id": rid,
        "identifier": identifiers,
        "type": [{"coding": [{"system": c.ORGANIZATION_TYPE, "code": kind}]}],
        "active": True,
        "name": name or rid,
    }


def patient(
    rid: str,
    personnummer: str,
    *,
    kommunkod: str | None = None,
    listed_at: str | None = None,
    name: tuple[str, str] = ("Test", "Testsson"),
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": c.PERSONNUMMER, "value": personnummer}],
        "name": [{"family": name[1], "given": [name[0]]}],
    }
    if kommunkod is not None:
        resource["address"] = [
            {
                "extension": [
                    {
                        "url": f"{SD}/lus-kommunkod",
                        "valueCoding": {"system": c.KOMMUNKOD, "code": kommunkod},
                    }
                ],
                "line": ["Storgatan 1"],
            }
        ]
    if listed_at is not None:
        resource["generalPractitioner"] = [{"reference": listed_at}]
    return resource


def transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    """A transaction Bundle PUTting resources with ids and POSTing the others."""
    entries = []
    for resource in resources:
        rid = resource.get("id")
        kind = resource["resourceType"]
        request = (
            {"method": "PUT", "url": f"{kind}/{rid}"} if rid else {"method": "POST", "url": kind}
        )
        entries.append({"resource": resource, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
