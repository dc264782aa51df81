"""Resource ids (the FHIR `id` datatype, the ids this server assigns) and version tags."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def is_valid_id(text: str) -> bool:
    """[A-Za-z0-9\\-.]{1,64} (datatypes.html#id)."""
    return _ID.fullmatch(text) is not None


def new_id() -> str:
    return str(uuid.uuid4())


def version_etag(version_id: int) -> str:
    """The weak ETag of a version: W/"3" (http.html#versioning)."""
    return f'W/"{version_id}"'
