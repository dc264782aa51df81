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

from fhir_server.search.contained import TOP_LEVEL, ContainedScope
from fhir_server.search.index import IndexEntries
from fhir_server.search.narrowing import Visibility
from fhir_server.search.results import Include, SortKey

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
    """One version of one resource as stored. `data` is the resource JSON incl. meta.

    A contained resource a search returns (search/contained.py) has its container's
    reference in `container` ("Type/id"), its local id in `id`, its own JSON in `data`,
    and the rest of its container's current version."""

    resource_type: str
    id: str
    version_id: int
    last_updated: str  # FHIR instant, UTC
    deleted: bool
    method: str  # POST | PUT | PATCH | DELETE: how this version came to be
    data: bytes | None  # None for a deletion
    seq: int = 0  # position in the store's global change order
    container: str | None = None  # "Type/id" of the container of a contained resource


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
    previous_cursor: str | None = None


Criteria = Sequence[tuple[str, str]]


@dataclass(slots=True)
class NewVersion:
    """One resource for `Storage.load`: checked, with its id and its index entries."""

    resource_type: str
    id: str
    resource: dict[str, Any]
    method: str  # POST (a new id) or PUT (an id given by the source)
    index: IndexEntries


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """How far delivery of one Subscription has come (the resource holds its settings)."""

    id: str  # Subscription.id
    status: str  # requested | active | error | off
    start_seq: int  # the outbox seq that started it: only later changes are its events
    events: int  # events-since-subscription-start: the number of the last event given
    delivered: int  # every event numbered up to this one was delivered
    error: str | None  # the last delivery problem, while in error
    principal: str | None  # the owner (who created it), for access control
    organisation: str | None
    changed: str  # when the status last changed, FHIR instant


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """One event of one subscription: a stored version that matched it, numbered 1, 2, …"""

    subscription: str
    number: int
    seq: int  # the outbox event
    resource_type: str
    id: str
    version: int
    method: str
    at: str  # when the change was stored, FHIR instant


@dataclass(frozen=True, slots=True)
class MatchedEvent:
    """An outbox event that matched a subscription, before it has a number."""

    subscription: str
    seq: int
    resource_type: str
    id: str
    version: int
    method: str
    at: str


@dataclass(frozen=True, slots=True)
class StateChange:
    """A change of a subscription's delivery state; None leaves a field as it is.

    Setting `status` also sets `error` (None clears it) and `changed`. `delivered` only
    moves forward."""

    id: str
    status: str | None = None
    error: str | None = None
    delivered: int | None = None


class Transaction(Protocol):
    """What a job may do inside one atomic store transaction."""

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        """The current version (possibly a deletion) or None if never existed."""
        ...

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        """Current, non-deleted resources matching search criteria (conditional ops)."""
        ...

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        """Store the next version (or a deletion when resource is None): sets meta.versionId
        and meta.lastUpdated, replaces the search index rows, appends to the outbox.

        `index`: the resource's index entries from `Storage.index`, computed before the job
        ran (off the store's serial path); None computes them here."""
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
        visibility: Visibility | None = None,
    ) -> HistoryPage:
        """Versions newest first. With `visibility` (type and system level), only versions
        of resources that are visible now (search/narrowing.py); none of a deleted one."""
        ...

    async def search(
        self,
        ctx: RequestContext,
        resource_type: str,
        criteria: Criteria,
        *,
        count: int,
        cursor: str | None = None,
        total: bool = True,
        sort: Sequence[SortKey] = (),
        compartment: tuple[str, str] | None = None,
        visibility: Visibility | None = None,
        contained: ContainedScope = TOP_LEVEL,
    ) -> SearchResult:
        """Current resources matching the criteria (in the compartment (type, id) when
        given, narrowed by `visibility`, see search/narrowing.py), a page of `count` after
        the opaque `cursor`. Ordered by `sort` (missing
        values last either way), then by the order they were first stored, which also
        breaks ties: pages neither repeat nor skip a resource whose sort values do not
        change meanwhile.

        `contained` (search/contained.py): whether contained resources are matched, and
        whether their containers or they themselves are returned (StoredVersion.container).
        Contained resources are visible with their containers: such a search takes no
        `visibility`, and its caller judges the containers."""
        ...

    async def include(
        self,
        ctx: RequestContext,
        matches: Sequence[StoredVersion],
        includes: Sequence[Include],
        revincludes: Sequence[Include],
        limit: int,
        visibility: Visibility | None = None,
    ) -> list[StoredVersion]:
        """The current resources `_include` and `_revinclude` add to a page of matches, each
        once and none of the matches; iterated ones also from what was included (a bounded
        number of rounds); at most `limit`; only visible ones with `visibility`."""
        ...

    def index(self, resource: dict[str, Any]) -> IndexEntries:
        """The search index entries of a resource as it will be stored. Callers compute
        them before submitting a job, so the work is not on the store's serial path; they
        stay valid while the job changes only meta.versionId and meta.lastUpdated."""
        ...

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run a job atomically, serialised with every other job; return its result after
        commit. An exception from the job rolls back all of its writes and is re-raised."""
        ...

    async def load(
        self,
        ctx: RequestContext,
        items: Sequence[NewVersion],
        locked: Callable[[], None] | None = None,
    ) -> list[StoredVersion]:
        """Bulk load (`fhir-server import`): store every item as one `write` each would, in
        one transaction (a resource that exists gets a new version; one that appears twice
        gets two), by the fastest means the store has. Returns the stored versions in order.

        `locked` is called once the items' identities are held: a load or write of any of
        them started after that call stores after this one (loads in several processes
        keep the order of their sources that way, and still overlap)."""
        ...

    async def outbox_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Outbox events with a sequence number above `seq`, oldest first."""
        ...

    def watch_commits(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every commit that may have added outbox events, from any
        thread (it must only hand over, e.g. with loop.call_soon_threadsafe). Returns the
        function that stops the calls."""
        ...

    async def refresh_statistics(self) -> None:
        """After a bulk load: bring the query planner's statistics up to date, so that the
        first searches are planned on what was loaded."""
        ...

    def recent_version(
        self, resource_type: str, rid: str, version: int
    ) -> tuple[StoredVersion, IndexEntries | None] | None:
        """A version this process committed lately, with the index entries it was stored
        with (storage/recent.py); None: read it with vread."""
        ...

    # Subscription delivery state (subscriptions/): written only by the server's
    # subscription service, serialised with the jobs like any change.

    async def subscription_cursor(self) -> int:
        """The outbox seq up to which events were matched against subscriptions (0: none)."""
        ...

    async def subscription_record(
        self, through: int, events: Sequence[MatchedEvent]
    ) -> list[SubscriptionEvent]:
        """Atomically: give each event the next number of its subscription, store it, and
        move the matcher cursor to `through` (never back). Events of a subscription that has
        no state are dropped. Returns the stored events, in the order given."""
        ...

    async def subscription_open(
        self, sid: str, start_seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState:
        """The state of a subscription, created (no events yet) if it has none; an existing
        state keeps its numbers and takes `status`."""
        ...

    async def subscription_apply(
        self, sid: str, seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState | None:
        """A client's change of a Subscription, found at outbox `seq`, applied once over all
        processes matching the outbox: when the matcher's cursor has not reached `seq`, as
        `subscription_open`, and the cursor moves to `seq`; else another process applied
        it, and this is the stored state (None: closed since)."""
        ...

    async def subscription_close(self, sid: str) -> None:
        """Forget a subscription's state and its events."""
        ...

    async def subscription_change(self, changes: Sequence[StateChange]) -> None:
        """Apply state changes (several subscriptions in one commit)."""
        ...

    async def subscription_states(self) -> list[SubscriptionState]:
        """Every subscription's state."""
        ...

    async def subscription_state(self, sid: str) -> SubscriptionState | None: ...

    async def subscription_leases(
        self, owner: str, sids: Sequence[str], seconds: float
    ) -> set[str]:
        """Claim or renew for `seconds` the right to deliver these subscriptions; the ones
        `owner` (a server process) holds. Several processes on one store share the
        subscriptions this way; a lease not renewed runs out."""
        ...

    async def subscription_release(self, owner: str) -> None:
        """Give up every lease of `owner` (a process stopping)."""
        ...

    async def subscription_events(
        self, sid: str, first: int, last: int | None, limit: int
    ) -> list[SubscriptionEvent]:
        """A subscription's events numbered first..last (inclusive; None: no upper bound),
        oldest first, at most `limit`."""
        ...
