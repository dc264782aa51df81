"""The storage port: what the server needs of a store, nothing of HTTP.

Reads go straight to the store. Every change runs as a *job*, an async function given a
`Transaction`; the adapter runs the job atomically (all of its writes or none) and
serialises it against every other job, so checks made inside a job (If-Match, conditional
create) cannot race. A job's writes also append to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking. Passed into every storage call; access control narrows on it.

    `enforced` is False for the server's own work and when security is off: then scopes and
    the organisation policy do not apply (fhir_server/auth/)."""

    principal: str | None = None
    organisation: str | None = None
    scopes: frozenset[str] = frozenset()
    client_ip: str | None = None
    request_id: str = ""
    enforced: bool = False
    patient: str | None = None  # the patient in context (patient/ scopes), an id
    fhir_user: str | None = None  # e.g. Practitioner/123, when a person is behind the call
    interaction: str = ""  # the FHIR interaction being served (audit), e.g. search-type
    target: str = ""  # the request's path and query below the base (audit)


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of one resource as stored. `data` is the resource JSON incl. meta."""

    resource_type: str
    id: str
    version_id: int
    last_updated: str  # FHIR instant, UTC
    deleted: bool
    method: str  # POST | PUT | PATCH | DELETE: how this version came to be
    data: bytes | None  # None for a deletion
    seq: int = 0  # position in the store's global change order


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredVersion]
    total: int | None
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    versions: list[StoredVersion]
    total: int | None = None
    next_cursor: str | None = None


Criteria = Sequence[tuple[str, str]]


class Transaction(Protocol):
    """What a job may do inside one atomic store transaction."""

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        """The current version (possibly a deletion) or None if never existed."""
        ...

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        """Current, non-deleted resources matching search criteria (conditional ops)."""
        ...

    async def write(
        self, resource_type: str, rid: str, resource: dict[str, Any] | None, method: str
    ) -> StoredVersion:
        """Store the next version (or a deletion when resource is None): sets meta.versionId
        and meta.lastUpdated, replaces the search index rows, appends to the outbox."""
        ...


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def read(
        self, ctx: RequestContext, resource_type: str, rid: str
    ) -> StoredVersion | None: ...

    async def vread(
        self, ctx: RequestContext, resource_type: str, rid: str, version_id: int
    ) -> StoredVersion | None: ...

    async def history(
        self,
        ctx: RequestContext,
        resource_type: str | None,
        rid: str | None,
        *,
        since: str | None,
        at: str | None,
        count: int,
        cursor: str | None,
    ) -> HistoryPage: ...

    async def search(
        self,
        ctx: RequestContext,
        resource_type: str,
        criteria: Criteria,
        *,
        count: int,
        cursor: str | None = None,
        total: bool = True,
    ) -> SearchResult:
        """Current resources matching the criteria, in a stable order (the order they were
        first stored), a page of `count` after the opaque `cursor`."""
        ...

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run a job atomically, serialised with every other job; return its result after
        commit. An exception from the job rolls back all of its writes and is re-raised."""
        ...

    async def outbox_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Outbox events with a sequence number above `seq`, oldest first."""
        ...
