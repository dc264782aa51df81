"""A unit checked and indexed as on the normal write path, ready to store: the CPU-heavy
part of an import, which needs no store and runs in worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from fhir_server import fhirjson
from fhir_server.bulkload.sources import Unit
from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.ids import new_id
from fhir_server.interactions.bundle import check_bundle
from fhir_server.interactions.bundle_entries import EntryPlan, plan_entry
from fhir_server.interactions.incoming import check_id, check_resource
from fhir_server.interactions.references import rewrite
from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.search.indexer import Indexer
from fhir_server.storage.port import NewVersion, Storage
from fhir_server.validation import default_validator


@dataclass(frozen=True, slots=True)
class Prepared:
    """A unit's outcome: resources to store, a problem, or a Bundle that must run through
    the interaction (it needs the store while it is planned)."""

    unit: Unit
    resources: list[NewVersion] | None = None
    problem: str | None = None
    interaction: dict[str, Any] | None = None


class Preparer:
    """Checks and indexes units with the runtime's definitions and validator (its store is
    not used)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._indexer = Indexer(runtime.definitions, base_url=runtime.settings.base_url or None)

    @classmethod
    def without_store(cls, settings: Settings) -> Preparer:
        # planning an entry reads only the definitions and the validator
        return cls(Runtime(settings, load_definitions(), default_validator(), cast(Storage, None)))

    def prepare(self, unit: Unit) -> Prepared:
        try:
            body = fhirjson.loads(unit.raw)
        except ValueError as exc:
            return Prepared(unit, problem=f"not JSON: {exc}")
        try:
            if (
                not unit.line
                and isinstance(body, dict)
                and body.get("resourceType") == "Bundle"
                and body.get("type") in ("transaction", "batch")
            ):
                return self._bundle(unit, body)
            return Prepared(unit, resources=[self._resource(body)])
        except FhirError as exc:
            return Prepared(unit, problem=reason(exc))

    def _resource(self, body: Any) -> NewVersion:
        resource = check_resource(self._runtime, body, None)
        rid = resource.get("id")
        if rid is None:
            resource["id"] = rid = new_id()
            method = "POST"
        else:
            check_id(str(rid))
            method = "PUT"
        index = self._indexer.extract(resource)
        return NewVersion(resource["resourceType"], str(rid), resource, method, index)

    def _bundle(self, unit: Unit, body: dict[str, Any]) -> Prepared:
        if check_bundle(body) == "transaction":
            entries = body.get("entry", [])
            plans = [plan_entry(self._runtime, i, e, "") for i, e in enumerate(entries)]
            if all(_plain(plan) for plan in plans):
                return Prepared(unit, resources=self._plain_transaction(plans))
        return Prepared(unit, interaction=body)

    def _plain_transaction(self, plans: list[EntryPlan]) -> list[NewVersion]:
        mapping: dict[str, str] = {}
        for plan in plans:
            if plan.rid is None:
                plan.rid = new_id()
            if plan.full_url:
                mapping[plan.full_url] = f"{plan.resource_type}/{plan.rid}"
        out = []
        for plan in plans:
            assert plan.resource is not None and plan.rid is not None
            resource = rewrite(plan.resource, mapping)
            resource["id"] = plan.rid
            index = self._indexer.extract(resource)
            out.append(NewVersion(plan.resource_type, plan.rid, resource, plan.method, index))
        return out


def _plain(plan: EntryPlan) -> bool:
    """A create or an update by id, with nothing conditional about it."""
    if plan.method == "POST":
        return plan.if_none_exist is None
    return (
        plan.method == "PUT"
        and plan.rid is not None
        and plan.criteria is None
        and plan.if_match is None
    )


def reason(exc: FhirError) -> str:
    parts = []
    for issue in exc.issues:
        where = f" ({', '.join(issue.expression)})" if issue.expression else ""
        parts.append(f"{issue.diagnostics}{where}")
    return "; ".join(parts) or f"HTTP {exc.status}"
