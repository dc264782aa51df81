"""The outbox read by several processes: in seq order without gaps, woken by NOTIFY.

A version's seq comes from a sequence, so seqs are taken in one order and committed in
another: a reader that saw seq 11 committed may later see 10 commit. A reader cursor that
moved past 10 would miss it. So `after` returns events only up to a *horizon* below which
nothing can still commit: it reads the sequence's last value L and, in the same statement
after it, the transactions holding the seq holders' lock (postgres/locks.py), and waits
(briefly, bounded) until those have ended. Every transaction takes that lock, shared,
before it draws a seq, and keeps it to its end; so one still able to commit a seq ≤ L
held the lock before L was read, and is listed. PostgreSQL marks a transaction committed
before it releases its locks: once the lock is gone, the rows are visible.

Only our writers are waited for. Not a transaction-id horizon (the oldest running
transaction of the cluster): any transaction that wrote anything anywhere on the
cluster, a batch job in another database or a `BEGIN` left open in psql, held every
notification back until it ended. (And a snapshot's list of running transactions holds
only ids below its xmax, the latest *completed* id + 1: a writer that took its id after
the latest commit was running but not listed.)

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

from fhir_server.storage.postgres.locks import SEQ_HOLDERS
from fhir_server.storage.postgres.statements import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

_KEYS = ("seq", "type", "id", "version", "method", "at", "principal", "organisation")
_SETTLE_POLL = 0.002
_SETTLE_MAX = 2.0  # a longer transaction holds the horizon back to the next call
# the rows of pg_locks of this database's transactions holding (or queued for) the seq
# holders' lock
_HOLDING = (
    f"locktype = 'advisory' AND classid = {SEQ_HOLDERS[0]} AND objid = {SEQ_HOLDERS[1]}"
    " AND objsubid = 2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


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
        # L read before the holders are listed (one statement, the CTE first)
        last, holders = await conn.fetchrow(
            "WITH l AS MATERIALIZED (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
            " AS v FROM version_seq) SELECT l.v, CASE WHEN l.v > $1 THEN ARRAY("
            f"SELECT virtualtransaction FROM pg_locks WHERE {_HOLDING}) END FROM l",
            self._horizon,
        )
        if last <= self._horizon:
            return self._horizon
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _SETTLE_MAX
        while holders:
            holders = await conn.fetchval(
                "SELECT array_agg(virtualtransaction) FROM pg_locks"
                f" WHERE {_HOLDING} AND virtualtransaction = ANY($1::text[])",
                holders,
            )
            if not holders:
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
