"""A resource as a store keeps a version of it: meta.versionId and meta.lastUpdated set."""

from __future__ import annotations

from typing import Any

from fhir_server import fhirjson


def stamped(resource: dict[str, Any], version: int, now: str) -> bytes:
    """Sets meta.versionId and meta.lastUpdated in place; returns the JSON to store."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    meta["versionId"] = str(version)
    meta["lastUpdated"] = now
    # meta sits after id, as the JSON representation orders it
    ordered = {k: v for k, v in resource.items() if k in ("resourceType", "id")}
    ordered["meta"] = meta
    ordered.update((k, v) for k, v in resource.items() if k not in ordered)
    resource.clear()
    resource.update(ordered)
    return fhirjson.dumps(resource)
