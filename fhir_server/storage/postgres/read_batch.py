"""Point reads that meet in one process go to PostgreSQL together.

A read by type and id costs more in the round trip than in the finding: the pool's
acquire and release, the protocol's messages, the server's parse-bind-execute cycle. So
while `limit` queries of current versions are on their way, the reads that arrive wait,
and the next query answers all of them at once (`SELECT … FROM unnest(types, ids)`).
Nothing waits on a timer: a read that finds fewer than `limit` queries on their way goes
at once, alone, so a quiet server answers as fast as without batching.

Every read is answered by a query sent after it arrived, so a read still sees every write
that committed before it was made (read-your-writes holds as without batching).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from fhir_server.storage.port import StoredVersion
from fhir_server.storage.postgres.statements import READ_CURRENT, READ_CURRENT_MANY
from fhir_server.storage.version_rows import row_to_version

Key = tuple[str, str]  # (type, id)
Waiter = tuple[Key, "asyncio.Future[StoredVersion | None]"]


class ReadBatcher:
    def __init__(
        self,
        connection: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
        limit: int = 2,
    ) -> None:
        self._connection = connection  # a pooled connection (503 on trouble)
        self._limit = limit  # queries on their way at once
        self._waiting: list[Waiter] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        if self._running < self._limit:
            self._running += 1
            try:
                return await self._alone(resource_type, rid)
            finally:
                self._running -= 1
                self._next()
        future: asyncio.Future[StoredVersion | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(((resource_type, rid), future))
        return await future

    async def _alone(self, resource_type: str, rid: str) -> StoredVersion | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(READ_CURRENT, resource_type, rid)
        return None if row is None else row_to_version(tuple(row))

    def _next(self) -> None:
        """A query finished: the reads that waited for it go as one."""
        waiting = [w for w in self._waiting if not w[1].done()]  # cancelled requests
        self._waiting = []
        if waiting:
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._together(waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _together(self, waiting: list[Waiter]) -> None:
        try:
            found = await self._fetch([key for key, _ in waiting])
        except BaseException as exc:  # the waiters get what a lone read would have raised
            for _, future in waiting:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
        else:
            for key, future in waiting:
                if not future.done():
                    future.set_result(found.get(key))
        finally:
            self._running -= 1
            self._next()

    async def _fetch(self, keys: list[Key]) -> dict[Key, StoredVersion]:
        unique = list(dict.fromkeys(keys))
        async with self._connection() as conn:
            rows = await conn.fetch(
                READ_CURRENT_MANY, [t for t, _ in unique], [i for _, i in unique]
            )
        return {(row[0], row[1]): row_to_version(tuple(row)) for row in rows}
