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


_DRAWN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def looks_drawn(text: str) -> bool:
    """Whether `text` has the form of the ids new_id draws (a random UUID): an id the
    server just drew for a create is no other writer's (122 random bits)."""
    return len(text) == 36 and _DRAWN.fullmatch(text) is not None


def version_etag(version_id: int) -> str:
    """The weak ETag of a version: W/"3" (http.html#versioning)."""
    return f'W/"{version_id}"'
