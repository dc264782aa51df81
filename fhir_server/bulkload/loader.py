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

Checking and indexing (the CPU-heavy part) run in worker processes (`Preparer`), in the
order the units come; the main process batches what they return and writes it, so the
database works while the workers prepare the next batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from fhir_server import fhirjson
from fhir_server.bulkload.sources import Unit
from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.heap import freeze_startup_objects
from fhir_server.ids import new_id
from fhir_server.interactions.bundle import check_bundle, run_batch, run_transaction
from fhir_server.interactions.bundle_entries import EntryPlan, plan_entry
from fhir_server.interactions.incoming import check_id, check_resource
from fhir_server.interactions.references import rewrite
from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.search.indexer import Indexer
from fhir_server.storage.port import NewVersion, RequestContext, Storage
from fhir_server.validation import default_validator

CONTEXT = RequestContext(principal="fhir-server import")
_CHUNK_BYTES = 512 * 1024  # units handed to a worker at once


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


@dataclass(frozen=True, slots=True)
class Prepared:
    """A unit's outcome in a worker: resources to store, a problem, or a Bundle that must
    run through the interaction (it needs the store while it is planned)."""

    unit: Unit
    resources: list[NewVersion] | None = None
    problem: str | None = None
    interaction: dict[str, Any] | None = None


class Preparer:
    """Checks and indexes units; needs no store (runs in worker processes)."""

    def __init__(self, settings: Settings) -> None:
        definitions = load_definitions()
        self._indexer = Indexer(definitions, base_url=settings.base_url or None)
        # planning an entry reads only the definitions and the validator
        self._runtime = Runtime(settings, definitions, default_validator(), cast(Storage, None))

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


# the worker processes' preparer, made once per process by the pool's initializer
_preparer: Preparer | None = None


def _start_worker(settings: Settings) -> None:
    global _preparer
    _preparer = Preparer(settings)
    freeze_startup_objects()


def _prepare_chunk(units: list[Unit]) -> list[Prepared]:
    assert _preparer is not None
    return [_preparer.prepare(unit) for unit in units]


def _chunks(units: Iterable[Unit]) -> Iterator[list[Unit]]:
    chunk: list[Unit] = []
    size = 0
    for unit in units:
        chunk.append(unit)
        size += len(unit.raw)
        if size >= _CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class Loader:
    def __init__(self, runtime: Runtime, batch_size: int = 2000, workers: int = 0) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.workers = workers
        self.report = Report()
        self._batch: list[tuple[Unit, list[NewVersion]]] = []
        self._pending = 0

    async def load(
        self, units: Iterable[Unit], progress: Callable[[Report], None] | None = None
    ) -> Report:
        async for prepared in self._prepared(units):
            self.report.units += 1
            if prepared.problem is not None:
                self.report.problems.append((prepared.unit.where, prepared.problem))
            elif prepared.interaction is not None:
                await self._flush()  # keep the order of the sources
                await self._interaction(prepared.unit, prepared.interaction)
            elif prepared.resources:
                self._batch.append((prepared.unit, prepared.resources))
                self._pending += len(prepared.resources)
                if self._pending >= self.batch_size:
                    await self._flush()
                    if progress is not None:
                        progress(self.report)
        await self._flush()
        if progress is not None:
            progress(self.report)
        return self.report

    async def _prepared(self, units: Iterable[Unit]) -> Any:
        if self.workers <= 0:
            preparer = Preparer(self.runtime.settings)
            for unit in units:
                yield preparer.prepare(unit)
            return
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(
            self.workers, initializer=_start_worker, initargs=(self.runtime.settings,)
        ) as pool:
            window: deque[Future[list[Prepared]]] = deque()
            for chunk in _chunks(units):
                window.append(pool.submit(_prepare_chunk, chunk))
                if len(window) >= 2 * self.workers:
                    for prepared in await asyncio.wrap_future(window.popleft(), loop=loop):
                        yield prepared
            while window:
                for prepared in await asyncio.wrap_future(window.popleft(), loop=loop):
                    yield prepared

    async def _interaction(self, unit: Unit, body: dict[str, Any]) -> None:
        try:
            if body.get("type") == "transaction":
                outcomes = await run_transaction(self.runtime, CONTEXT, body, "")
                for outcome in outcomes:
                    if outcome.version is not None and outcome.status in (200, 201):
                        self.report.stored[outcome.version.resource_type] += 1
                return
            results = await run_batch(self.runtime, CONTEXT, body, "")
        except FhirError as exc:
            self.report.problems.append((unit.where, reason(exc)))
            return
        for index, result in enumerate(results):
            if isinstance(result, FhirError):
                self.report.problems.append((f"{unit.where} entry {index}", reason(result)))
            elif result.version is not None and result.status in (200, 201):
                self.report.stored[result.version.resource_type] += 1

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
                    self.report.problems.append((unit.where, reason(exc)))
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


def reason(exc: FhirError) -> str:
    parts = []
    for issue in exc.issues:
        where = f" ({', '.join(issue.expression)})" if issue.expression else ""
        parts.append(f"{issue.diagnostics}{where}")
    return "; ".join(parts) or f"HTTP {exc.status}"
