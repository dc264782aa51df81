"""Resource ids (the FHIR `id` datatype, the ids this server assigns) and version tags."""

from __future__ import annotations

import os
import re
import threading
import uuid

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def is_valid_id(text: str) -> bool:
    """[A-Za-z0-9\\-.]{1,64} (datatypes.html#id)."""
    return _ID.fullmatch(text) is not None


# Random ids drawn in batches: uuid4() reads the kernel's random source for every id, a
# system call during which the interpreter's lock is given up, and the event loop that draws
# an id for each create and each notification then waits for the store's writer thread to
# hand the lock back (up to the 5 ms switch interval). One read of 256 ids' worth of bytes
# keeps the same randomness (the kernel's, 122 bits an id) at one call in 256.
_BATCH = 256
_drawn: list[str] = []
_drawn_pid = -1
_draw_lock = threading.Lock()  # the event loop and the store's threads both draw ids


def new_id() -> str:
    """A random UUID (version 4) as the id of a new resource or notification."""
    global _drawn_pid
    with _draw_lock:
        if not _drawn or _drawn_pid != os.getpid():  # a forked child draws its own
            raw = os.urandom(16 * _BATCH)
            _drawn[:] = [
                str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)
            ]
            _drawn_pid = os.getpid()
        return _drawn.pop()


_DRAWN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def looks_drawn(text: str) -> bool:
    """Whether `text` has the form of the ids new_id draws (a random UUID): an id the
    server just drew for a create is no other writer's (122 random bits)."""
    return len(text) == 36 and _DRAWN.fullmatch(text) is not None


def version_etag(version_id: int) -> str:
    """The weak ETag of a version: W/"3" (http.html#versioning)."""
    return f'W/"{version_id}"'
