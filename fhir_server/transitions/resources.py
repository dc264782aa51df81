"""Reading and amending the FHIR resources of the workflow (plain JSON dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir_server import fhirjson
from fhir_server.storage.port import StoredVersion
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import instant

Resource = dict[str, Any]
# Task.status values of a task still to do
OPEN = ("draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold")


def data_of(version: StoredVersion | None) -> Resource | None:
    if version is None or version.deleted or version.data is None:
        return None
    loaded: Resource = fhirjson.loads(version.data)
    return loaded


def coded(concept: Any, system: str) -> str | None:
    """The code of `system` in a CodeableConcept (or a list of them)."""
    concepts = concept if isinstance(concept, list) else [concept]
    for item in concepts:
        if isinstance(item, dict):
            for coding in item.get("coding", []):
                if coding.get("system") == system and isinstance(coding.get("code"), str):
                    return str(coding["code"])
    return None


def notice_type(resource: Resource | None) -> str | None:
    """The lus-notice-type of a Communication, or None when it is no LUS notice."""
    if resource is None or resource.get("resourceType") != "Communication":
        return None
    return coded(resource.get("category", []), c.NOTICE_TYPE)


def task_type(resource: Resource | None) -> str | None:
    if resource is None or resource.get("resourceType") != "Task":
        return None
    return coded(resource.get("code"), c.TASK_TYPE)


def reference(value: Any) -> str | None:
    """A literal reference as 'Type/id' (absolute URLs cut to their last two segments)."""
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if not isinstance(ref, str) or "/" not in ref or ref.startswith(("#", "urn:")):
        return None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    return f"{parts[-2]}/{parts[-1]}"


def references(values: Any, resource_type: str | None = None) -> list[str]:
    found = []
    for value in values if isinstance(values, list) else [values]:
        ref = reference(value)
        if ref is not None and (resource_type is None or ref.startswith(resource_type + "/")):
            found.append(ref)
    return found


def stay_of(notice: Resource) -> str | None:
    """The Encounter a notice is about (Communication.encounter, else about)."""
    for ref in references(notice.get("encounter")) + references(notice.get("about", [])):
        if ref.startswith("Encounter/"):
            return ref
    return None


def split(ref: str) -> tuple[str, str]:
    resource_type, _, rid = ref.partition("/")
    return resource_type, rid


def extension(resource: Resource, url: str) -> Any:
    """The value[x] of the first extension with `url`, or None."""
    for item in resource.get("extension", []):
        if item.get("url") == url:
            for key, value in item.items():
                if key.startswith("value"):
                    return value
    return None


def set_extension(resource: Resource, url: str, kind: str | None, value: Any) -> None:
    """Replace the extension `url` by one value[kind] (None: remove it)."""
    kept = [e for e in resource.get("extension", []) if e.get("url") != url]
    if kind is not None:
        kept.append({"url": url, f"value{kind}": value})
    if kept:
        resource["extension"] = kept
    else:
        resource.pop("extension", None)


def state_coding(state: str) -> dict[str, str]:
    return {"system": c.STATE, "code": state, "display": c.STATE_DISPLAY[state]}


def stay_state_code(encounter: Resource) -> str | None:
    value = extension(encounter, c.STATE_EXTENSION)
    return value.get("code") if isinstance(value, dict) else None


def identifier_value(resource: Resource, *systems: str) -> str | None:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") in systems and isinstance(identifier.get("value"), str):
            return str(identifier["value"])
    return None


def business_status(code: str) -> dict[str, object]:
    display = "I tid" if code == c.I_TID else "Försenad"
    return {"coding": [{"system": c.TASK_BUSINESS_STATUS, "code": code, "display": display}]}


def is_open(task: Resource) -> bool:
    return task.get("status") in OPEN


def deadline_of(task: Resource) -> datetime | None:
    end = task.get("restriction", {}).get("period", {}).get("end")
    return instant(end) if isinstance(end, str) else None
