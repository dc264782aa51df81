"""The outbox read by several processes: in seq order without gaps, woken by NOTIFY.

A version's seq comes from a sequence, so seqs are taken in one order and committed in
another: a reader that saw seq 11 committed may later see 10 commit. A reader cursor that
moved past 10 would miss it. So `after` returns events only up to a *horizon* below which
nothing can still commit: it reads the sequence's last value L, then takes a transaction
id R of its own, and waits (briefly, bounded) until every transaction with an id below R
has ended. A transaction holding a seq ≤ L took its id before its seq (fhir_lock_current,
or the x step of the WRITE statement), so before L was read, so below R.

Why not the list of running transactions of a snapshot: a snapshot lists only ids below
its xmax, the latest *completed* id + 1, so a writer that took its id after the latest
commit is running but not listed, and a reader trusting the list moved past its seq.

Writers notify NOTIFY_CHANNEL in the transaction that adds events; PostgreSQL delivers the
notification to every listening session at commit. `Watcher` keeps one listening
connection per process, reconnects when it breaks, and then calls every callback once
(notifications sent while it was away are lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from fhir_server.storage.postgres.statements import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

_KEYS = ("seq", "type", "id", "version", "method", "at", "principal", "organisation")
_SETTLE_POLL = 0.002
_SETTLE_MAX = 2.0  # a longer transaction holds the horizon back to the next call


class OutboxReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._horizon = 0  # every seq up to here is committed or never will be

    async def after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            horizon = await self._settle(conn)
            rows = await conn.fetch(
                "SELECT seq, type, id, version, method, at, principal, organisation"
                " FROM outbox WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                seq,
                horizon,
                limit,
            )
        return [dict(zip(_KEYS, row, strict=True)) for row in rows]

    async def _settle(self, conn: asyncpg.Connection) -> int:
        # L read before R is taken (one statement, the CTE first); xid8 has no binary
        # codec in asyncpg: both compared as text-converted numbers
        last, mine = await conn.fetchrow(
            "WITH l AS MATERIALIZED (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
            " AS v FROM version_seq) SELECT l.v, CASE WHEN l.v > $1"
            " THEN pg_current_xact_id()::text::numeric END FROM l",
            self._horizon,
        )
        if last <= self._horizon:
            return self._horizon
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _SETTLE_MAX
        while True:
            # the oldest running transaction's id (or the next to be assigned): past R
            # when every transaction older than this reader's has ended
            xmin = await conn.fetchval(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::numeric"
            )
            if xmin > mine:
                break
            if loop.time() > deadline:
                return self._horizon
            await asyncio.sleep(_SETTLE_POLL)
        self._horizon = max(self._horizon, last)
        return self._horizon


class Watcher:
    """One LISTEN connection per process, opened when the first callback is added."""

    def __init__(self, url: str, connect_timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._loop = loop  # the store's: callbacks may be added from outside it
        self._callbacks: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def add(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._callbacks.append(callback)
        if self._task is None:
            self._task = self._loop.create_task(self._listen())

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def committed(self) -> None:
        """A commit of this process: its watchers need not wait for the notification."""
        self._fire()

    def _fire(self, *_: Any) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # one consumer's fault must not silence the others
                log.exception("outbox watch callback failed")

    async def _listen(self) -> None:
        delay = 0.1
        first = True
        while not self._closed:
            try:
                conn = await asyncpg.connect(self._url, timeout=self._connect_timeout)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("outbox watch cannot connect (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, self._fire)
                delay = 0.1
                if not first:
                    self._fire()  # what committed while we were away
                first = False
                await lost.wait()
                log.warning("outbox watch connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox watch failed (%s); reconnecting", exc)
            finally:
                if not conn.is_closed():
                    conn.terminate()

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
