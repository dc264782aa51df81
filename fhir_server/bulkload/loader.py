"""Loading units into the store: checked and indexed as on the normal write path
(preparer.py), written in large batches in the order the units come (writer.py).

- An NDJSON line is one resource: stored under its id (a new version if it exists), or a
  new id when it has none.
- A transaction Bundle of plain creates and updates (what Synthea writes) is planned as the
  transaction interaction plans it: every entry checked, POSTs given new ids, every
  reference to an entry's fullUrl (urn:uuid:…) rewritten to Type/id; its resources then go
  into one batch whole, so the bundle is stored entirely or not at all. Any other Bundle
  (batch, conditional entries, deletes, patches) runs through the transaction or batch
  interaction itself.
- A unit that cannot be stored (not JSON, invalid, unknown type) is reported with where
  it came from (file:line) and the reason; the others go on.

Where the work runs:
- `workers` 0: all of it in this process.
- a store several processes may write (PostgreSQL): worker processes prepare and store
  their chunks themselves, in turn (writing_workers.py).
- the embedded SQLite store (one writer): worker processes prepare, this process batches
  what they return and writes it, so the database works while they prepare the next.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from fhir_server.bulkload.preparer import Prepared, Preparer
from fhir_server.bulkload.sources import Unit, chunks
from fhir_server.bulkload.writer import BatchWriter, Tally
from fhir_server.bulkload.writing_workers import WritingWorkers
from fhir_server.config import Settings
from fhir_server.heap import freeze_startup_objects
from fhir_server.runtime import Runtime
from fhir_server.storage.configured import uses_postgres


@dataclass
class Report(Tally):
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        return self.resources / max(time.monotonic() - self.started, 1e-9)


class Loader:
    def __init__(self, runtime: Runtime, batch_size: int = 2000, workers: int = 0) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.workers = workers
        self.report = Report()

    async def load(
        self, units: Iterable[Unit], progress: Callable[[Report], None] | None = None
    ) -> Report:
        def tick() -> None:
            if progress is not None:
                progress(self.report)

        settings = self.runtime.settings
        if self.workers > 0 and uses_postgres(settings):
            workers = WritingWorkers(settings, self.workers, self.batch_size)
            try:
                await asyncio.to_thread(workers.load, units, self.report, tick)
            finally:
                workers.stop()
        else:
            writer = BatchWriter(self.runtime, self.batch_size, self.report)
            async for prepared in self._prepared(units):
                if await writer.add(prepared):
                    tick()
            await writer.flush()
        tick()
        return self.report

    async def _prepared(self, units: Iterable[Unit]) -> AsyncIterator[Prepared]:
        if self.workers <= 0:
            preparer = Preparer(self.runtime)
            for unit in units:
                yield preparer.prepare(unit)
            return
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(
            self.workers, initializer=_start_preparer, initargs=(self.runtime.settings,)
        ) as pool:
            window: deque[Future[list[Prepared]]] = deque()
            for chunk in chunks(units):
                window.append(pool.submit(_prepare_chunk, chunk))
                if len(window) >= 2 * self.workers:
                    for prepared in await asyncio.wrap_future(window.popleft(), loop=loop):
                        yield prepared
            while window:
                for prepared in await asyncio.wrap_future(window.popleft(), loop=loop):
                    yield prepared


# a preparing worker process's preparer, made once per process by the pool's initializer
_preparer: Preparer | None = None


def _start_preparer(settings: Settings) -> None:
    global _preparer
    _preparer = Preparer.without_store(settings)
    freeze_startup_objects()


def _prepare_chunk(units: list[Unit]) -> list[Prepared]:
    assert _preparer is not None
    return [_preparer.prepare(unit) for unit in units]
