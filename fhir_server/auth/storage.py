"""The storage port as a caller may use it: scope limits, the organisation policy, protected
identity, and the audit trail, wrapped around the real store.

Everything reaches the data through the port, so checking here covers every path: the REST
handlers, batch and transaction entries, operations. For a caller (`ctx.enforced`):
- reads (read, vread, history) return only what the caller may see; anything else looks
  absent (None, or left out of a page), so the REST layer answers 404 and leaks nothing;
- organisation visibility narrows the search in the store (the policy's `visibility`, see
  fhir_server/auth/policy.py and search/narrowing.py): searches, `_include`/`_revinclude`,
  chains, `_has`, type and system history find only visible resources, so pages are full
  and `total` counts what the caller may see; a read asks the store the same question of
  the one resource (`_id`), so a read and a search never disagree;
- a search is narrowed by the granular / patient-compartment limits of the scopes (added
  to its criteria); when they cannot be written as criteria, each match is checked and
  `total` is left out;
- every write inside a job is checked where it happens: create needs `c`, changing `u`,
  deleting `d`, granular limits must hold before and after, AuditEvents are append-only;
- each job's writes get one AuditEvent in the same transaction; reads and searches are
  audited through the batched `AuditTrail`; a failed write is audited with its outcome.
Calls without an enforced context (security off, the server's own work) pass through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from fhir_server import fhirjson
from fhir_server.audit.events import (
    METHOD_ACTIONS,
    MINOR_FAILURE,
    SUCCESS,
    Access,
    audit_event,
    outcome_of,
)
from fhir_server.audit.trail import AuditTrail, write_event
from fhir_server.auth.access import forbidden, grants, may_search
from fhir_server.auth.policy import (
    OrganisationPolicy,
    may_hold_protected,
    organisation_scoped,
    patients_of,
    redact,
)
from fhir_server.auth.scopes import CREATE, DELETE, READ, SEARCH, UPDATE, Limits
from fhir_server.definitions import Definitions
from fhir_server.outcome import FhirError, error
from fhir_server.search.contained import TOP_LEVEL, ContainedScope
from fhir_server.search.index import IndexEntries
from fhir_server.search.narrowing import Visibility
from fhir_server.search.results import Include, SortKey
from fhir_server.storage.port import (
    Criteria,
    HistoryPage,
    RequestContext,
    SearchResult,
    Storage,
    StoredVersion,
    Transaction,
)

T = TypeVar("T")
INTERNAL = RequestContext()  # the wrapper's own lookups see everything
AUDIT_EVENT = "AuditEvent"

Exists = Callable[[str, Criteria], Awaitable[bool]]
# how `_admit` judges organisation visibility (see there)
Admission = Literal["narrowed", "now", "body"]


class SecuredStorage:
    def __init__(self, inner: Storage, definitions: Definitions, audit: bool) -> None:
        self.inner = inner
        self.policy = OrganisationPolicy(definitions)
        self.trail: AuditTrail | None = AuditTrail(inner) if audit else None

    def __getattr__(self, name: str) -> Any:
        # port methods added later pass through until they are secured here
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()
        if self.trail is not None:
            self.trail.start()

    async def close(self) -> None:
        if self.trail is not None:
            await self.trail.close()  # the last read events, before the store goes
        await self.inner.close()

    async def outbox_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        return await self.inner.outbox_after(seq, limit)

    # reads ---------------------------------------------------------------------------

    async def _exists(self, resource_type: str, criteria: Criteria) -> bool:
        found = await self.inner.search(INTERNAL, resource_type, criteria, count=1, total=False)
        return bool(found.versions)

    async def _org_ids(self, organisation: str) -> list[str]:
        found = await self.inner.search(
            INTERNAL, "Organization", [("identifier", organisation)], count=100, total=False
        )
        return [v.id for v in found.versions]

    def _limits(self, ctx: RequestContext, resource_type: str, permission: str) -> Limits:
        return grants(ctx).limits(resource_type, permission, ctx.patient is not None)

    async def _visibility(self, ctx: RequestContext) -> Visibility | None:
        """The narrowing of the caller's organisation (None: it may see everything)."""
        if not organisation_scoped(ctx):
            return None
        refs = await self.policy.organisation_refs(ctx.organisation or "", self._org_ids)
        return self.policy.visibility(ctx, refs)

    async def _visible_now(self, ctx: RequestContext, resource_type: str, rid: str) -> bool:
        """Whether a search by the caller would find this resource as it is now."""
        found = await self.inner.search(
            INTERNAL,
            resource_type,
            [("_id", rid)],
            count=1,
            total=False,
            visibility=await self._visibility(ctx),
        )
        return bool(found.versions)

    async def visible_to(
        self,
        reader: RequestContext,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        deleted: bool,
    ) -> bool:
        """Whether `reader` may learn of a change of this resource (a subscription's owner):
        as a read would judge it now; a deletion by the content it had (`resource`)."""
        if not organisation_scoped(reader):
            return True
        if not deleted:
            return await self._visible_now(reader, resource_type, rid)
        if resource is None:
            return False
        refs = await self.policy.organisation_refs(reader.organisation or "", self._org_ids)
        return await self.policy.visible(reader, resource_type, rid, resource, refs, self._exists)

    async def _admit_deletion(
        self, ctx: RequestContext, version: StoredVersion, limits: Limits | None
    ) -> StoredVersion | None:
        """A deletion shows (410 Gone, a history entry) only to a caller who could see the
        resource before it: to an organisation, judged by its last content; otherwise the
        resource looks as if it never existed (404), and its existence does not leak."""
        if not organisation_scoped(ctx):
            return version
        last = None
        if version.version_id > 1:
            last = await self.inner.vread(
                INTERNAL, version.resource_type, version.id, version.version_id - 1
            )
        if last is None or last.deleted or last.data is None:
            return None
        judged = await self._admit(ctx, last, limits, Access(), "body")
        return version if judged is not None else None

    async def _admit(
        self,
        ctx: RequestContext,
        version: StoredVersion,
        limits: Limits | None,
        access: Access,
        visibility: Admission = "now",
    ) -> StoredVersion | None:
        """The version as this caller may see it (redacted), or None if it may not.
        `limits`: the scopes' limits still to check (None: already applied).
        `visibility`: how organisation visibility is judged: "narrowed" (the store found it
        through the narrowing already), "now" (the resource as it is now: the store is
        asked), "body" (this version's content, for a resource that is deleted now)."""
        if version.deleted or version.data is None:
            return await self._admit_deletion(ctx, version, limits)
        if limits is not None and not await self._within(
            ctx, version.resource_type, version.id, limits, self._exists
        ):
            return None
        resource: dict[str, Any] | None = None
        if organisation_scoped(ctx) and visibility == "now":
            if not await self._visible_now(ctx, version.resource_type, version.id):
                return None
        elif organisation_scoped(ctx) and visibility == "body":
            resource = fhirjson.loads(version.data)
            refs = await self.policy.organisation_refs(ctx.organisation or "", self._org_ids)
            visible = await self.policy.visible(
                ctx, version.resource_type, version.id, resource, refs, self._exists
            )
            if not visible:
                return None
        if self.trail is not None:
            if resource is None:
                resource = fhirjson.loads(version.data)
            access.patients.update(patients_of(version.resource_type, resource))
            access.resources.append(
                f"{version.resource_type}/{version.id}/_history/{version.version_id}"
            )
        if grants(ctx).protected_identity or not may_hold_protected(version.data):
            return version
        resource = resource if resource is not None else fhirjson.loads(version.data)
        if not redact(resource):
            return version
        return _with_data(version, fhirjson.dumps(resource))

    async def _within(
        self, ctx: RequestContext, resource_type: str, rid: str, limits: Limits, exists: Exists
    ) -> bool:
        """Whether one of the scopes' ways reaches this resource (patient compartment,
        granular criteria), judged by the search index of its current version."""
        if limits.unlimited:
            return True
        for way in limits.ways:
            if way.compartment and not await self._in_compartment(ctx, resource_type, rid, exists):
                continue
            if way.restriction and not await exists(
                resource_type, [("_id", rid), *way.restriction]
            ):
                continue
            return True
        return False

    async def _in_compartment(
        self, ctx: RequestContext, resource_type: str, rid: str, exists: Exists
    ) -> bool:
        if ctx.patient is None:
            return False
        if resource_type == "Patient":
            return rid == ctx.patient
        for param in self.policy.compartment_params(resource_type):
            if await exists(resource_type, [("_id", rid), (param, f"Patient/{ctx.patient}")]):
                return True
        return False

    def _audit_read(
        self, ctx: RequestContext, access: Access, found: bool = True, what: str = ""
    ) -> None:
        if self.trail is None:
            return
        if found:
            self.trail.record(audit_event(ctx, access))
        else:
            self.trail.record(
                audit_event(ctx, access, outcome=MINOR_FAILURE, description=f"{what} not found")
            )

    async def read(self, ctx: RequestContext, resource_type: str, rid: str) -> StoredVersion | None:
        version = await self.inner.read(ctx, resource_type, rid)
        if not ctx.enforced:
            return version
        access = Access()
        if version is not None:
            limits = self._limits(ctx, resource_type, READ)
            version = await self._admit(ctx, version, limits, access)
        self._audit_read(ctx, access, version is not None, f"{resource_type}/{rid}")
        return version

    async def vread(
        self, ctx: RequestContext, resource_type: str, rid: str, version_id: int
    ) -> StoredVersion | None:
        version = await self.inner.vread(ctx, resource_type, rid, version_id)
        if not ctx.enforced:
            return version
        access = Access()
        if version is not None:
            limits = self._limits(ctx, resource_type, READ)
            version = await self._admit(ctx, version, limits, access)
        what = f"{resource_type}/{rid}/_history/{version_id}"
        self._audit_read(ctx, access, version is not None, what)
        return version

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
        if not ctx.enforced:
            return await self.inner.history(
                ctx,
                resource_type,
                rid,
                since=since,
                at=at,
                count=count,
                cursor=cursor,
                visibility=visibility,
            )
        access = Access()
        permission = READ if rid is not None else SEARCH
        # type and system history: only versions of resources visible now (in the store)
        admission: Admission = "narrowed"
        if rid is not None and resource_type is not None:
            # an instance's history is visible as a whole when its current version is; a
            # deleted one's versions are judged each by its content
            admission = "body"
            current = await self.inner.read(INTERNAL, resource_type, rid)
            if current is not None and not current.deleted:
                limits = self._limits(ctx, resource_type, READ)
                if await self._admit(ctx, current, limits, Access()) is None:
                    self._audit_read(ctx, access, False, f"{resource_type}/{rid}")
                    return HistoryPage([], 0, None)
                admission = "narrowed"
        page = await self.inner.history(
            ctx,
            resource_type,
            rid,
            since=since,
            at=at,
            count=count,
            cursor=cursor,
            visibility=await self._visibility(ctx) if rid is None else None,
        )
        kept: list[StoredVersion] = []
        for version in page.versions:
            limits = self._limits(ctx, version.resource_type, permission)
            admitted = await self._admit(ctx, version, limits, access, admission)
            if admitted is not None:
                kept.append(admitted)
        self._audit_read(ctx, access)
        total = page.total if len(kept) == len(page.versions) else None
        return HistoryPage(kept, total, page.next_cursor)

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
        if not ctx.enforced:
            return await self.inner.search(
                ctx,
                resource_type,
                criteria,
                count=count,
                cursor=cursor,
                total=total,
                sort=sort,
                compartment=compartment,
                visibility=visibility,
                contained=contained,
            )
        limits = grants(ctx).limits(resource_type, SEARCH, ctx.patient is not None)
        narrowed = self._narrowed(ctx, resource_type, criteria, limits)
        if contained.active:
            return await self._search_contained(
                ctx, resource_type, narrowed, count, cursor, total, sort, compartment, contained
            )
        # scopes' limits that are no criteria are checked per match: the count would tell
        # what the page hides, so no total then; the organisation narrows in the store
        found = await self.inner.search(
            ctx,
            resource_type,
            narrowed if narrowed is not None else criteria,
            count=count,
            cursor=cursor,
            total=total and narrowed is not None,
            sort=sort,
            compartment=compartment,
            visibility=await self._visibility(ctx),
        )
        access = Access()
        kept: list[StoredVersion] = []
        for version in found.versions:
            # narrowed by the scopes already unless that was not possible
            check = limits if narrowed is None else None
            admitted = await self._admit(ctx, version, check, access, "narrowed")
            if admitted is not None:
                kept.append(admitted)
        self._audit_read(ctx, access)
        return SearchResult(kept, found.total, found.next_cursor, found.previous_cursor)

    async def _search_contained(
        self,
        ctx: RequestContext,
        resource_type: str,
        narrowed: list[tuple[str, str]] | None,
        count: int,
        cursor: str | None,
        total: bool,
        sort: Sequence[SortKey],
        compartment: tuple[str, str] | None,
        contained: ContainedScope,
    ) -> SearchResult:
        """A search matching contained resources: the scopes' limits of the searched type
        narrow the matches as criteria; each container (every returned resource, and the
        container of every returned contained resource) is then admitted as a read of it
        would be: its type searchable, its own scopes' limits, the organisation's
        visibility now. `total` stays only when nothing can be left out that way."""
        if narrowed is None:
            raise forbidden(
                f"The token's scopes limit {resource_type} in ways that cannot be applied to"
                " contained resources (_contained)",
                f"system/{resource_type}.s",
                "_contained",
            )
        found = await self.inner.search(
            ctx,
            resource_type,
            narrowed,
            count=count,
            cursor=cursor,
            total=total,
            sort=sort,
            compartment=compartment,
            contained=contained,
        )
        access = Access()
        kept: list[StoredVersion] = []
        for version in found.versions:
            admitted = await self._admit_with_container(ctx, version, access)
            if admitted is not None:
                kept.append(admitted)
        self._audit_read(ctx, access)
        whole = not organisation_scoped(ctx) and grants(ctx).allows_everything(SEARCH)
        return SearchResult(
            kept, found.total if whole else None, found.next_cursor, found.previous_cursor
        )

    async def _admit_with_container(
        self, ctx: RequestContext, version: StoredVersion, access: Access
    ) -> StoredVersion | None:
        if version.container is None:
            container: StoredVersion | None = version
        else:
            container_type, _, container_id = version.container.partition("/")
            container = await self.inner.read(INTERNAL, container_type, container_id)
        if container is None or container.deleted or not may_search(ctx, container.resource_type):
            return None
        limits = self._limits(ctx, container.resource_type, SEARCH)
        admitted = await self._admit(ctx, container, limits, access, "now")
        if admitted is None or version.container is None:
            return admitted
        if version.data is None or grants(ctx).protected_identity:
            return version
        if not may_hold_protected(version.data):
            return version
        resource = fhirjson.loads(version.data)
        return _with_data(version, fhirjson.dumps(resource)) if redact(resource) else version

    def index(self, resource: dict[str, Any]) -> IndexEntries:
        return self.inner.index(resource)

    async def include(
        self,
        ctx: RequestContext,
        matches: Sequence[StoredVersion],
        includes: Sequence[Include],
        revincludes: Sequence[Include],
        limit: int,
        visibility: Visibility | None = None,
    ) -> list[StoredVersion]:
        if not ctx.enforced:
            return await self.inner.include(ctx, matches, includes, revincludes, limit, visibility)
        found = await self.inner.include(
            ctx, matches, includes, revincludes, limit, await self._visibility(ctx)
        )
        # each included resource passes the same admission as a search match
        access = Access()
        kept: list[StoredVersion] = []
        for version in found:
            if not may_search(ctx, version.resource_type):
                continue
            limits = self._limits(ctx, version.resource_type, SEARCH)
            admitted = await self._admit(ctx, version, limits, access, "narrowed")
            if admitted is not None:
                kept.append(admitted)
        self._audit_read(ctx, access)
        return kept

    def _narrowed(
        self, ctx: RequestContext, resource_type: str, criteria: Criteria, limits: Limits
    ) -> list[tuple[str, str]] | None:
        """The criteria with the scopes' limits added, or None when they cannot be written
        as criteria (several different ways: an OR the query syntax has no form for)."""
        base = list(criteria)
        if limits.unlimited:
            return base
        extras: list[list[tuple[str, str]]] = []
        for way in limits.ways:
            extra = list(way.restriction)
            if way.compartment:
                if ctx.patient is None:
                    continue
                if resource_type == "Patient":
                    extra.append(("_id", ctx.patient))
                else:
                    params = self.policy.compartment_params(resource_type)
                    if not params:
                        continue
                    # one compartment parameter narrows to a part of the compartment: safe
                    extra.append((params[0], f"Patient/{ctx.patient}"))
            extras.append(extra)
        if not extras:
            return [*base, ("_id", "-")]  # nothing is reachable: an id no resource has
        if len(extras) == 1:
            return base + extras[0]
        return None

    # writes --------------------------------------------------------------------------

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        if not ctx.enforced:
            return await self.inner.run(ctx, job)

        async def secured(tx: Transaction) -> T:
            guarded = SecuredTransaction(tx, ctx, self)
            result = await job(guarded)
            if self.trail is not None:
                await write_event(tx, guarded.audit_event())
            return result

        try:
            return await self.inner.run(ctx, secured)
        except FhirError as failure:
            if self.trail is not None:
                self.trail.record(
                    audit_event(
                        ctx,
                        Access(),
                        outcome=outcome_of(failure.status),
                        description=str(failure),
                    )
                )
            raise


class SecuredTransaction:
    """A job's transaction, checking each write and noting what the job touched."""

    def __init__(self, tx: Transaction, ctx: RequestContext, owner: SecuredStorage) -> None:
        self._tx = tx
        self._ctx = ctx
        self._owner = owner
        self.written: list[StoredVersion] = []
        self.seen: list[StoredVersion] = []  # read and not then written (GET entries)
        self._patients: set[str] = set()
        self._methods: set[str] = set()

    async def _exists(self, resource_type: str, criteria: Criteria) -> bool:
        return bool(await self._tx.find(resource_type, criteria))

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        version = await self._tx.read(resource_type, rid)
        if version is not None and not version.deleted:
            self.seen.append(version)
        return version

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        found = await self._tx.find(resource_type, criteria)
        self.seen.extend(found)
        return found

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        ctx = self._ctx
        current = await self._tx.read(resource_type, rid)
        exists = current is not None and not current.deleted
        if resource_type == AUDIT_EVENT and exists:
            raise error(405, "not-supported", "AuditEvents cannot be changed or deleted")
        permission = DELETE if resource is None else (UPDATE if exists else CREATE)
        granted = grants(ctx)
        if not granted.allows(resource_type, permission, ctx.patient is not None):
            raise forbidden(
                f"The token's scopes do not allow '{permission}' on {resource_type}",
                f"system/{resource_type}.{permission}",
            )
        limits = granted.limits(resource_type, permission, ctx.patient is not None)
        owner = self._owner
        if exists and not await owner._within(ctx, resource_type, rid, limits, self._exists):
            raise forbidden(f"{resource_type}/{rid} is outside what the token's scopes reach")
        if exists and organisation_scoped(ctx) and current is not None and current.data:
            before = fhirjson.loads(current.data)
            refs = await owner.policy.organisation_refs(ctx.organisation or "", self._org_ids)
            if not await owner.policy.visible(ctx, resource_type, rid, before, refs, self._exists):
                raise error(404, "not-found", f"{resource_type}/{rid} is not known")
        version = await self._tx.write(resource_type, rid, resource, method, index)
        if resource is not None and not await owner._within(
            ctx, resource_type, rid, limits, self._exists
        ):
            raise forbidden(f"The new {resource_type} is outside what the token's scopes reach")
        self.written.append(version)
        self._methods.add(method)
        previous = current.data if exists and current is not None else None
        for source in (resource, fhirjson.loads(previous) if previous else None):
            if source is not None:
                self._patients.update(patients_of(resource_type, {**source, "id": rid}))
        return version

    async def _org_ids(self, organisation: str) -> list[str]:
        found = await self._tx.find("Organization", [("identifier", organisation)])
        return [v.id for v in found]

    def audit_event(self) -> dict[str, Any]:
        access = Access(patients=set(self._patients))
        written = {(v.resource_type, v.id) for v in self.written}
        for version in self.written:
            access.resources.append(
                f"{version.resource_type}/{version.id}/_history/{version.version_id}"
            )
        for version in self.seen:
            if (version.resource_type, version.id) in written or version.data is None:
                continue
            access.resources.append(
                f"{version.resource_type}/{version.id}/_history/{version.version_id}"
            )
            access.patients.update(patients_of(version.resource_type, fhirjson.loads(version.data)))
        action = None
        if len(self._methods) == 1:
            action = METHOD_ACTIONS.get(next(iter(self._methods)))
        return audit_event(self._ctx, access, action=action, outcome=SUCCESS)


def _with_data(version: StoredVersion, data: bytes) -> StoredVersion:
    return dataclasses.replace(version, data=data)
