"""The queue of AuditEvents for reads and searches, written in batches as one storage job.

A read must not wait for a write of its own: events wait here at most `INTERVAL` seconds
(or until `BATCH` of them are waiting) and go to the store in one job. `close()` writes
what is left, so nothing is lost on a normal shutdown; a crash may lose the last interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fhir_server.ids import new_id
from fhir_server.storage.port import RequestContext, Storage, Transaction
from fhir_server.waiting import wait_event

log = logging.getLogger(__name__)

INTERVAL = 0.5
BATCH = 500
SERVER = RequestContext(principal="fhir-server", interaction="audit")


class AuditTrail:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage  # the store itself, not the secured wrapper
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-trail")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    def record(self, event: dict[str, Any]) -> None:
        self._pending.append(event)
        if len(self._pending) >= BATCH:
            self._wake.set()

    async def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]

            async def job(tx: Transaction, events: list[dict[str, Any]] = batch) -> None:
                for event in events:
                    await write_event(tx, event)

            try:
                await self._storage.run(SERVER, job)
            except Exception:
                # keep them for the next try rather than lose them
                log.exception("could not write %d audit events", len(batch))
                self._pending[:0] = batch
                return

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, INTERVAL)
            self._wake.clear()
            await self.flush()


async def write_event(tx: Transaction, event: dict[str, Any]) -> None:
    rid = new_id()
    event["id"] = rid
    await tx.write("AuditEvent", rid, event, "POST")
