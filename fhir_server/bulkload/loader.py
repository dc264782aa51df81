"""Loading units into the store: checked and indexed as on the normal write path, written
in large batches through `Storage.load` (COPY on PostgreSQL, one group commit on SQLite).

- An NDJSON line is one resource: stored under its id (a new version if it exists), or a
  new id when it has none.
- A transaction Bundle of plain creates and updates (what Synthea writes) is planned as the
  transaction interaction plans it: every entry checked, POSTs given new ids, every
  reference to an entry's fullUrl (urn:uuid:…) rewritten to Type/id; its resources then go
  into one batch whole, so the bundle is stored entirely or not at all. Any other Bundle
  (batch, conditional entries, deletes, patches) runs through the transaction or batch
  interaction itself.
- A unit that cannot be stored (not JSON, invalid, unknown type) is reported with where
  it came from (file:line) and the reason; the others go on. A batch the store refuses is
  retried unit by unit, so only the culprit is lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fhir_server import fhirjson
from fhir_server.bulkload.sources import Unit
from fhir_server.ids import new_id
from fhir_server.interactions.bundle import check_bundle, run_batch, run_transaction
from fhir_server.interactions.bundle_entries import EntryPlan, plan_entry
from fhir_server.interactions.incoming import check_id, check_resource
from fhir_server.interactions.references import rewrite
from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.storage.port import NewVersion, RequestContext

CONTEXT = RequestContext(principal="fhir-server import")


@dataclass
class Report:
    units: int = 0
    stored: Counter[str] = field(default_factory=Counter)  # per resource type
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    started: float = field(default_factory=time.monotonic)

    @property
    def resources(self) -> int:
        return sum(self.stored.values())

    def rate(self) -> float:
        return self.resources / max(time.monotonic() - self.started, 1e-9)


class Loader:
    def __init__(self, runtime: Runtime, batch_size: int = 2000) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.report = Report()
        self._batch: list[tuple[Unit, list[NewVersion]]] = []
        self._pending = 0

    async def load(self, units: Iterable[Unit], progress: Any = None) -> Report:
        for unit in units:
            self.report.units += 1
            try:
                body = fhirjson.loads(unit.raw)
            except ValueError as exc:
                self.report.problems.append((unit.where, f"not JSON: {exc}"))
                continue
            try:
                prepared = await self._prepare(unit, body)
            except FhirError as exc:
                self.report.problems.append((unit.where, _reason(exc)))
                continue
            if prepared:
                self._batch.append((unit, prepared))
                self._pending += len(prepared)
                if self._pending >= self.batch_size:
                    await self._flush()
                    if progress is not None:
                        progress(self.report)
        await self._flush()
        if progress is not None:
            progress(self.report)
        return self.report

    async def _prepare(self, unit: Unit, body: Any) -> list[NewVersion] | None:
        """The unit's resources ready to store, or None when it was stored another way."""
        if (
            not unit.line
            and isinstance(body, dict)
            and body.get("resourceType") == "Bundle"
            and body.get("type") in ("transaction", "batch")
        ):
            return await self._bundle(unit, body)
        return [self._resource(body)]

    def _resource(self, body: Any) -> NewVersion:
        resource = check_resource(self.runtime, body, None)
        rid = resource.get("id")
        if rid is None:
            resource["id"] = rid = new_id()
            method = "POST"
        else:
            check_id(str(rid))
            method = "PUT"
        rtype = resource["resourceType"]
        index = self.runtime.storage.index(resource)
        return NewVersion(rtype, str(rid), resource, method, index)

    async def _bundle(self, unit: Unit, body: dict[str, Any]) -> list[NewVersion] | None:
        kind = check_bundle(body)
        entries = body.get("entry", [])
        if kind == "transaction":
            plans = [plan_entry(self.runtime, i, e, "") for i, e in enumerate(entries)]
            if all(_plain(plan) for plan in plans):
                return self._plain_transaction(plans)
            outcomes = await run_transaction(self.runtime, CONTEXT, body, "")
            for outcome in outcomes:
                if outcome.version is not None and outcome.status in (200, 201):
                    self.report.stored[outcome.version.resource_type] += 1
            return None
        results = await run_batch(self.runtime, CONTEXT, body, "")
        for index, result in enumerate(results):
            if isinstance(result, FhirError):
                self.report.problems.append((f"{unit.where} entry {index}", _reason(result)))
            elif result.version is not None and result.status in (200, 201):
                self.report.stored[result.version.resource_type] += 1
        return None

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
            index = self.runtime.storage.index(resource)
            out.append(NewVersion(plan.resource_type, plan.rid, resource, plan.method, index))
        return out

    async def _flush(self) -> None:
        batch, self._batch, self._pending = self._batch, [], 0
        if not batch:
            return
        items = [item for _, prepared in batch for item in prepared]
        try:
            await self.runtime.storage.load(CONTEXT, items)
        except FhirError as exc:
            if len(batch) == 1 or exc.status == 503:
                for unit, _ in batch:
                    self.report.problems.append((unit.where, _reason(exc)))
                return
            for one in batch:  # find the unit the store refused; the rest go in
                self._batch = [one]
                await self._flush()
            return
        for item in items:
            self.report.stored[item.resource_type] += 1


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


def _reason(exc: FhirError) -> str:
    parts = []
    for issue in exc.issues:
        where = f" ({', '.join(issue.expression)})" if issue.expression else ""
        parts.append(f"{issue.diagnostics}{where}")
    return "; ".join(parts) or f"HTTP {exc.status}"
