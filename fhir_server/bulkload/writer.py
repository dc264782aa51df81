"""Prepared units into the store: plain resources in large batches through `Storage.load`
(COPY on PostgreSQL, one group commit on SQLite), other Bundles through the transaction or
batch interaction, in the order the units come. A batch the store refuses is retried unit
by unit, so only the culprit is lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_server.bulkload.preparer import Prepared, reason
from fhir_server.bulkload.sources import Unit
from fhir_server.interactions.bundle import run_batch, run_transaction
from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.storage.port import NewVersion, RequestContext

CONTEXT = RequestContext(principal="fhir-server import")


@dataclass
class Tally:
    """What units came to: small, it travels back from the worker processes."""

    units: int = 0
    stored: Counter[str] = field(default_factory=Counter)  # per resource type
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    @property
    def resources(self) -> int:
        return sum(self.stored.values())

    def add(self, other: Tally) -> None:
        self.units += other.units
        self.stored.update(other.stored)
        self.problems.extend(other.problems)


class BatchWriter:
    def __init__(self, runtime: Runtime, batch_size: int, tally: Tally) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.tally = tally
        self._batch: list[tuple[Unit, list[NewVersion]]] = []
        self._pending = 0

    async def add(self, prepared: Prepared) -> bool:
        """Whether a batch was written."""
        self.tally.units += 1
        if prepared.problem is not None:
            self.tally.problems.append((prepared.unit.where, prepared.problem))
        elif prepared.interaction is not None:
            await self.flush()  # keep the order of the sources
            await self._interaction(prepared.unit, prepared.interaction)
        elif prepared.resources:
            self._batch.append((prepared.unit, prepared.resources))
            self._pending += len(prepared.resources)
            if self._pending >= self.batch_size:
                await self.flush()
                return True
        return False

    async def flush(self, locked: Callable[[], None] | None = None) -> None:
        """`locked`: as for Storage.load, for the batch as first tried (not called when
        there is nothing to write, nor by the retries of a refused batch's units)."""
        batch, self._batch, self._pending = self._batch, [], 0
        if not batch:
            return
        items = [item for _, prepared in batch for item in prepared]
        try:
            await self.runtime.storage.load(CONTEXT, items, locked)
        except FhirError as exc:
            if len(batch) == 1 or exc.status == 503:
                for unit, _ in batch:
                    self.tally.problems.append((unit.where, reason(exc)))
                return
            for one in batch:  # find the unit the store refused; the rest go in
                self._batch = [one]
                await self.flush()
            return
        for item in items:
            self.tally.stored[item.resource_type] += 1

    async def _interaction(self, unit: Unit, body: dict[str, Any]) -> None:
        try:
            if body.get("type") == "transaction":
                outcomes = await run_transaction(self.runtime, CONTEXT, body, "")
                for outcome in outcomes:
                    if outcome.version is not None and outcome.status in (200, 201):
                        self.tally.stored[outcome.version.resource_type] += 1
                return
            results = await run_batch(self.runtime, CONTEXT, body, "")
        except FhirError as exc:
            self.tally.problems.append((unit.where, reason(exc)))
            return
        for index, result in enumerate(results):
            if isinstance(result, FhirError):
                self.tally.problems.append((f"{unit.where} entry {index}", reason(result)))
            elif result.version is not None and result.status in (200, 201):
                self.tally.stored[result.version.resource_type] += 1
