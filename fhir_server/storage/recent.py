"""The versions this process committed lately, with the index entries they were stored with.

Whoever follows the outbox in the same process (the subscription matcher) finds a change it
is told of here instead of reading it back from the store and extracting its index entries
a second time: at a thousand writes a second that read and extraction were a fifth of what
a notification cost. Only committed versions are published (a job rolled back publishes
nothing), so what is found here is what the store holds. Bounded: the oldest go first; a
version not found is read from the store as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from fhir_server.search.index import IndexEntries
from fhir_server.storage.port import StoredVersion

Written = tuple[StoredVersion, IndexEntries | None]


class RecentVersions:
    def __init__(self, limit: int = 2048) -> None:
        self._limit = limit
        self._items: dict[tuple[str, str, int], Written] = {}
        self._lock = threading.Lock()  # published from the store's writer thread

    def publish(self, written: Iterable[Written]) -> None:
        with self._lock:
            items = self._items
            for version, entries in written:
                items[(version.resource_type, version.id, version.version_id)] = (
                    version,
                    entries,
                )
            excess = len(items) - self._limit
            if excess > 0:
                for key in list(items)[:excess]:  # dicts keep insertion order: oldest first
                    del items[key]

    def get(self, resource_type: str, rid: str, version: int) -> Written | None:
        return self._items.get((resource_type, rid, version))
