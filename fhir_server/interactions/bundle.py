"""batch and transaction (POST / with a Bundle), http.html#transaction.

A transaction is one store job: every entry succeeds or nothing is stored. Entries run in
the order the specification sets (DELETE, POST, PUT/PATCH, GET); fullUrls and conditional
references are resolved across the bundle before anything is written. A batch runs each
entry as its own job and reports each entry's own status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import orjson

from fhir_server.auth.access import check_entry
from fhir_server.ids import new_id
from fhir_server.interactions.bundle_entries import ORDER, EntryPlan, plan_entry
from fhir_server.interactions.create import create_in
from fhir_server.interactions.delete import conditional_delete_in, delete_in
from fhir_server.interactions.incoming import criteria_issue, parse_criteria_text
from fhir_server.interactions.patch import patch_in
from fhir_server.interactions.references import collect_references, rewrite
from fhir_server.interactions.result import WriteResult
from fhir_server.interactions.update import (
    conditional_target,
    conditional_update_in,
    update_in,
)
from fhir_server.outcome import FhirError, Issue, bad_request, error, gone, not_found
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext, StoredVersion, Transaction

T = TypeVar("T")


@dataclass
class EntryOutcome:
    status: int
    version: StoredVersion | None = None
    location: bool = False
    resource: Any = None  # a non-stored resource to return (e.g. a searchset)
    issues: tuple[Issue, ...] = ()


def check_bundle(body: Any, max_entries: int | None = None) -> str:
    """The type of a batch or transaction Bundle; 400 if it is neither, 413 when it holds
    more than `max_entries` entries."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise bad_request("POST to the base URL takes a Bundle of type batch or transaction")
    kind = body.get("type")
    if kind not in ("batch", "transaction"):
        raise bad_request(f"Bundle.type must be batch or transaction, not '{kind}'", "Bundle.type")
    entries = body.get("entry", [])
    if not isinstance(entries, list):
        raise bad_request("Bundle.entry must be an array", "Bundle.entry")
    if max_entries is not None and len(entries) > max_entries:
        raise error(
            413,
            "too-costly",
            f"The Bundle has {len(entries)} entries, more than the limit of {max_entries}",
            "Bundle.entry",
        )
    return str(kind)


# transaction ---------------------------------------------------------------------------


def _identity(plan: EntryPlan) -> str | None:
    if plan.rid is not None and plan.method in ("PUT", "PATCH", "DELETE"):
        return f"{plan.resource_type}/{plan.rid}"
    return None


def _full_url_keys(plan: EntryPlan, base: str) -> list[str]:
    if not plan.full_url:
        return []
    keys = [plan.full_url]
    if base and plan.full_url.startswith(base + "/"):
        keys.append(plan.full_url[len(base) + 1 :])
    return keys


async def run_transaction(
    runtime: Runtime, context: RequestContext, body: dict[str, Any], base: str
) -> list[EntryOutcome]:
    entries = body.get("entry", [])
    plans = [plan_entry(runtime, i, e, base) for i, e in enumerate(entries)]
    for plan in plans:  # one forbidden entry fails the whole transaction
        _authorize(context, plan)
    seen: dict[str, int] = {}
    for plan in plans:
        identity = _identity(plan)
        if identity is not None:
            if identity in seen:
                raise bad_request(
                    f"{identity} appears in entries {seen[identity]} and {plan.index}:"
                    " a transaction may touch a resource once",
                    f"Bundle.entry[{plan.index}]",
                )
            seen[identity] = plan.index
    full_urls = [p.full_url for p in plans if p.full_url]
    if len(full_urls) != len(set(full_urls)):
        raise bad_request("Two entries share one fullUrl", "Bundle.entry.fullUrl")

    async def job(tx: Transaction) -> list[EntryOutcome]:
        return await _transaction_in(tx, runtime, plans, base)

    return await runtime.storage.run(context, job)


async def _transaction_in(
    tx: Transaction, runtime: Runtime, plans: list[EntryPlan], base: str
) -> list[EntryOutcome]:
    outcomes: dict[int, EntryOutcome] = {}
    mapping: dict[str, str] = {}
    ordered = sorted(plans, key=lambda p: ORDER[p.method])
    deletes = [p for p in ordered if p.method == "DELETE"]
    rest = [p for p in ordered if p.method != "DELETE"]

    # 1. deletions come first, so that what follows (criteria included) sees their effect
    for plan in deletes:
        outcomes[plan.index] = await _located_call(_execute(tx, runtime, plan, set()), plan)
    # 2. identities: which id each POST and PUT ends up with
    matched: set[int] = set()
    for plan in rest:
        await _located_call(_resolve_identity(tx, plan, mapping, matched, base), plan)
    # 3. conditional references (Type?criteria) inside the resources
    for plan in rest:
        if plan.resource is None:
            continue
        found: set[str] = set()
        collect_references(plan.resource, found)
        for ref in sorted(found):
            if "?" in ref and ref not in mapping and not ref.startswith("#"):
                mapping[ref] = await _resolve_conditional_reference(tx, ref, plan)
    # 4. rewrite references, then write and read in order
    for plan in rest:
        if plan.resource is not None:
            rewrite(plan.resource, mapping)
        outcomes[plan.index] = await _located_call(_execute(tx, runtime, plan, matched), plan)
    return [outcomes[p.index] for p in plans]


async def _located_call(call: Awaitable[T], plan: EntryPlan) -> T:
    try:
        return await call
    except FhirError as exc:
        raise _located(exc, plan) from exc


async def _resolve_identity(
    tx: Transaction, plan: EntryPlan, mapping: dict[str, str], matched: set[int], base: str
) -> None:
    if plan.method == "POST":
        assert plan.resource is not None
        if plan.if_none_exist is not None:
            found = await tx.find(plan.resource_type, plan.if_none_exist)
            if len(found) > 1:
                raise FhirError(412, [criteria_issue(len(found), "Conditional create")])
            if found:
                plan.rid = found[0].id
                matched.add(plan.index)
        if plan.rid is None:
            plan.rid = new_id()
    elif plan.method == "PUT" and plan.rid is None and plan.criteria is not None:
        assert plan.resource is not None
        body_id = plan.resource.get("id")
        target = await conditional_target(tx, plan.resource_type, plan.criteria, body_id)
        plan.rid = target or new_id()
        plan.criteria = None
    if plan.rid is not None and plan.method in ("POST", "PUT"):
        target = f"{plan.resource_type}/{plan.rid}"
        for key in _full_url_keys(plan, base):
            mapping[key] = target


async def _resolve_conditional_reference(tx: Transaction, ref: str, plan: EntryPlan) -> str:
    rtype, _, query = ref.partition("?")
    found = await tx.find(rtype, parse_criteria_text(query))
    if len(found) != 1:
        raise FhirError(
            412,
            [
                Issue(
                    "error",
                    "not-found" if not found else "multiple-matches",
                    f"The conditional reference '{ref}' matched {len(found)} resources"
                    " (exactly one is required)",
                    (f"Bundle.entry[{plan.index}].resource",),
                )
            ],
        )
    return f"{rtype}/{found[0].id}"


async def _execute(
    tx: Transaction, runtime: Runtime, plan: EntryPlan, matched: set[int]
) -> EntryOutcome:
    if plan.method == "DELETE":
        if plan.rid is not None:
            result = await delete_in(tx, plan.resource_type, plan.rid)
        else:
            assert plan.criteria is not None
            result = await conditional_delete_in(tx, plan.resource_type, plan.criteria)
        return _from_write(result)
    if plan.method == "POST":
        assert plan.resource is not None and plan.rid is not None
        if plan.index in matched:
            current = await tx.read(plan.resource_type, plan.rid)
            return EntryOutcome(200, current, location=True)
        return _from_write(await create_in(tx, plan.resource_type, plan.resource, rid=plan.rid))
    if plan.method == "PUT":
        assert plan.resource is not None
        if plan.criteria is not None:
            result = await conditional_update_in(
                tx, plan.resource_type, plan.criteria, plan.resource, plan.if_match
            )
        else:
            assert plan.rid is not None
            result = await update_in(tx, plan.resource_type, plan.rid, plan.resource, plan.if_match)
        return _from_write(result)
    if plan.method == "PATCH":
        assert plan.rid is not None and plan.patch_kind is not None
        result = await patch_in(
            tx,
            runtime,
            plan.resource_type,
            plan.rid,
            plan.patch_kind,
            plan.patch_body,
            plan.if_match,
        )
        return _from_write(result)
    return await _read_in(tx, plan)


async def _read_in(tx: Transaction, plan: EntryPlan) -> EntryOutcome:
    if plan.rid is None:
        if not plan.query:
            raise bad_request("A GET entry needs Type/id or Type?criteria")
        found = await tx.find(plan.resource_type, parse_criteria_text(plan.query))
        searchset = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {"resource": orjson.Fragment(v.data), "search": {"mode": "match"}}
                for v in found
                if v.data is not None
            ],
        }
        if not searchset["entry"]:
            del searchset["entry"]
        return EntryOutcome(200, resource=searchset)
    current = await tx.read(plan.resource_type, plan.rid)
    if current is None:
        raise not_found(f"{plan.resource_type}/{plan.rid} is not known")
    if plan.vid is not None and plan.vid != current.version_id:
        raise bad_request("Reading an older version inside a transaction is not supported")
    if current.deleted:
        raise gone(f"{plan.resource_type}/{plan.rid} was deleted")
    return EntryOutcome(200, current)


def _from_write(result: WriteResult) -> EntryOutcome:
    return EntryOutcome(
        result.status, result.version, location=result.status == 201, issues=result.issues
    )


def _located(exc: FhirError, plan: EntryPlan) -> FhirError:
    where = f"Bundle.entry[{plan.index}]"
    issues = [
        Issue(i.severity, i.code, f"{where}: {i.diagnostics}", i.expression or (where,))
        for i in exc.issues
    ]
    return FhirError(exc.status, issues, exc.headers)


# batch ---------------------------------------------------------------------------------


async def run_batch(
    runtime: Runtime, context: RequestContext, body: dict[str, Any], base: str
) -> list[EntryOutcome | FhirError]:
    entries = body.get("entry", [])
    results: dict[int, EntryOutcome | FhirError] = {}
    plans: list[EntryPlan] = []
    for index, entry in enumerate(entries):
        try:
            plan = plan_entry(runtime, index, entry, base)
            _authorize(context, plan)
            plans.append(plan)
        except FhirError as exc:
            results[index] = exc
    for plan in sorted(plans, key=lambda p: ORDER[p.method]):
        try:
            results[plan.index] = await runtime.storage.run(context, _single(runtime, plan))
        except FhirError as exc:
            results[plan.index] = exc
    return [results[i] for i in range(len(entries))]


def _single(runtime: Runtime, plan: EntryPlan) -> Callable[[Transaction], Any]:
    async def job(tx: Transaction) -> EntryOutcome:
        if plan.method == "POST":
            assert plan.resource is not None
            result = await create_in(tx, plan.resource_type, plan.resource, plan.if_none_exist)
            return EntryOutcome(result.status, result.version, location=result.created)
        return await _execute(tx, runtime, plan, set())

    return job


def _authorize(context: RequestContext, plan: EntryPlan) -> None:
    conditional = plan.criteria is not None or plan.if_none_exist is not None
    check_entry(
        context, plan.index, plan.method, plan.resource_type, plan.rid is not None, conditional
    )


def status_text(status: int) -> str:
    """An entry's response.status: the code and its reason phrase, "201 Created"."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
