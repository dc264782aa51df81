"""The LUS clocks: a background service that marks Tasks overdue at their deadline.

Every `lus_clock_interval` seconds (and once at start) it searches the open LUS Tasks
whose `restriction.period.end` has passed and are not yet forsenad, and marks each in its
own transaction (re-read there, so several server processes or a completion racing the
clock never mark twice). The Task's new businessStatus reaches the owner and the requester
(the sender) through the task and task-overdue subscription topics; the miss is recorded
as a deviation (deviations.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext, Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions import tasks
from fhir_server.transitions.clock import fhir_instant, now
from fhir_server.transitions.deviations import mark_overdue, missed
from fhir_server.transitions.resources import data_of, is_open
from fhir_server.waiting import wait_event

log = logging.getLogger(__name__)
SERVER = RequestContext()  # the server's own work
PAGE = 200


class Clocks:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.interval = runtime.settings.lus_clock_interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="lus-clocks")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:  # a failed round must not stop the clocks
                log.exception("The LUS clocks failed a round; trying again")
            await wait_event(self._stopping, self.interval)

    async def tick(self, at: datetime | None = None) -> int:
        """Mark every open LUS Task past its deadline at `at` (default now); how many."""
        moment = at or now()
        criteria = [
            ("code", f"{c.TASK_TYPE}|"),
            ("status", tasks.OPEN_SEARCH),
            ("deadline", f"lt{fhir_instant(moment)}"),
            ("business-status:not", f"{c.TASK_BUSINESS_STATUS}|{c.FORSENAD}"),
        ]
        storage = self.runtime.storage
        marked = 0
        cursor: str | None = None
        while not self._stopping.is_set():
            page = await storage.search(
                SERVER, "Task", criteria, count=PAGE, cursor=cursor, total=False
            )
            for version in page.versions:
                marked += await self._mark(version.id, moment)
            cursor = page.next_cursor
            if cursor is None:
                break
        return marked

    async def _mark(self, rid: str, moment: datetime) -> int:
        async def job(tx: Transaction) -> int:
            task = data_of(await tx.read("Task", rid))
            if task is None or not is_open(task) or not missed(task, moment):
                return 0
            await mark_overdue(tx, task)
            return 1

        try:
            return await self.runtime.storage.run(SERVER, job)
        except FhirError as failure:  # e.g. a version conflict with another process
            log.info("Task/%s was not marked overdue: %s", rid, failure)
            return 0


def create(runtime: Runtime) -> Clocks:
    return Clocks(runtime)
