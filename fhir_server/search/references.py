"""Which resource a reference's text points to, for indexing and for criteria.

A local reference ("Patient/1", "Patient/1/_history/2", or an absolute URL under this
server's base) names a type and an id. An absolute URL elsewhere names at most a type: its
id is another server's, and must not match a local resource with the same id.
"""

from __future__ import annotations

from collections.abc import Collection

from fhir_server.ids import is_valid_id


def local_target(
    reference: str, resource_types: Collection[str], base_url: str | None = None
) -> tuple[str | None, str | None]:
    """(type, id) of a reference: both for a local one, the type alone for an absolute URL
    elsewhere, (None, None) for contained ("#x"), urn: and anything unrecognised."""
    text = reference
    if base_url and text.startswith(base_url.rstrip("/") + "/"):
        text = text[len(base_url.rstrip("/")) + 1 :]
    parts = text.split("/")
    if len(parts) in (2, 4) and (len(parts) == 2 or parts[2] == "_history"):
        kind, rid = parts[0], parts[1]
        if kind in resource_types and is_valid_id(rid):
            return kind, rid
        return None, None
    if "://" in text:
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2 and parts[-2] in resource_types and is_valid_id(parts[-1]):
            return parts[-2], None
    return None, None
