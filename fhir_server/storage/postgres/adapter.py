"""The PostgreSQL adapter of the storage port (asyncpg).

Several server processes may share one database: every job is a real PostgreSQL
transaction, serialised where it must be by advisory locks (locks.py); migrations run
under a lock at start (schema.py); the outbox is read gap-free from any process
(`outbox_after`) and commits wake readers through LISTEN/NOTIFY (`watch_commits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from fhir_server.definitions import Definitions
from fhir_server.search.compartments import search_plan
from fhir_server.search.contained import TOP_LEVEL, ContainedScope
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.search.narrowing import Visibility
from fhir_server.search.results import Include, SortKey
from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.history_sql import cursor_number, history_query
from fhir_server.storage.limits import search_time, too_slow
from fhir_server.storage.port import (
    Criteria,
    HistoryPage,
    MatchedEvent,
    NewVersion,
    RequestContext,
    SearchResult,
    StateChange,
    StoredVersion,
    SubscriptionEvent,
    SubscriptionState,
    Transaction,
)
from fhir_server.storage.postgres import bulk, subscriptions
from fhir_server.storage.postgres.dialect import numbered
from fhir_server.storage.postgres.errors import RETRYABLE, TRANSIENT, unavailable
from fhir_server.storage.postgres.outbox import OutboxReader, Watcher
from fhir_server.storage.postgres.read_batch import ReadBatcher
from fhir_server.storage.postgres.schema import prepare
from fhir_server.storage.postgres.statements import READ_VERSION
from fhir_server.storage.postgres.transaction import PostgresTransaction, current_versions
from fhir_server.storage.recent import RecentVersions
from fhir_server.storage.sqlite.contained_search import contained_search
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.queries import row_to_version
from fhir_server.storage.sqlite.search_results import (
    Fetch,
    Row,
    included,
    page_of,
    reference_bits,
    visible_versions,
    whole_first_page,
)
from fhir_server.storage.sqlite.search_sql import count_plan

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology

log = logging.getLogger(__name__)

T = TypeVar("T")

_JOB_ATTEMPTS = 3


async def _init_connection(conn: asyncpg.Connection) -> None:
    # resources travel as the bytes they are stored as: no decoding, no re-encoding
    # (json's binary form is its text)
    await conn.set_type_codec(
        "json", encoder=bytes, decoder=bytes, schema="pg_catalog", format="binary"
    )


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs before its next use. asyncpg's default reset runs
    `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release: a round
    trip per request, for session state this adapter never leaves on pooled connections
    (locks are transaction-scoped, LISTEN has a connection of its own, nothing is SET).
    Measured on loopback: 158-178 → 105-121 µs of client CPU per pooled point read, and
    +60 % reads/s. A transaction left open (a job cancelled mid-way) is still rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class PostgresStorage:
    def __init__(
        self,
        url: str,
        definitions: Definitions,
        *,
        pool_min: int = 2,
        pool_max: int = 10,
        base_url: str | None = None,
        connect_timeout: float = 5.0,
        terminology: Terminology | None = None,
        search_timeout: float = 30.0,
    ) -> None:
        self._url = url
        # seconds the queries of one search or history page may run in all (limits.py)
        self._search_timeout = search_timeout
        # the ValueSets and CodeSystems token :in, :not-in, :above and :below use
        self._terminology = terminology
        self._definitions = definitions
        self._pool_min = pool_min
        self._pool_max = pool_max
        self._base_url = base_url
        self._connect_timeout = connect_timeout
        self._indexer = Indexer(definitions, base_url=base_url)
        self._clock = MonotonicClock()
        self._pool: asyncpg.Pool | None = None
        self._keys: SearchKeys | None = None
        self._reference_bits: dict[str, int] = {}
        self._outbox: OutboxReader | None = None
        self._watcher: Watcher | None = None
        self._recent = RecentVersions()
        self._reads = ReadBatcher(self._connection)

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=self._connect_timeout)
        try:
            self._keys = await prepare(conn, self._definitions, self._indexer)
        finally:
            await conn.close()
        self._reference_bits = reference_bits(
            self._keys, self._indexer.indexed, self._definitions.resource_types
        )
        self._pool = await asyncpg.create_pool(
            self._url,
            min_size=self._pool_min,
            max_size=self._pool_max,
            init=_init_connection,
            reset=_reset_connection,
            timeout=self._connect_timeout,
        )
        self._outbox = OutboxReader(self._pool)
        self._watcher = Watcher(self._url, self._connect_timeout, asyncio.get_running_loop())

    async def close(self) -> None:
        if self._watcher is not None:
            await self._watcher.close()
            self._watcher = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def keys(self) -> SearchKeys:
        assert self._keys is not None, "storage not started"
        return self._keys

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "storage not started"
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; database trouble → 503, and every pooled connection is
        replaced on next use (after a restart of the server they are all dead)."""
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except TRANSIENT as exc:
            self.pool.expire_connections()
            log.warning("database unavailable: %s", exc)
            raise unavailable(exc) from exc

    @asynccontextmanager
    async def _searching(
        self, ctx: RequestContext
    ) -> AsyncIterator[tuple[asyncpg.Connection, Fetch]]:
        """A pooled connection for one search, and its queries' fetch: for a client's
        request each query waits at most what is left of the search's time; past it
        PostgreSQL is told to cancel the query, and the search is answered 400
        (storage/limits.py), not 503."""
        seconds = search_time(ctx, self._search_timeout)
        deadline = None if seconds is None else asyncio.get_running_loop().time() + seconds
        async with self._connection() as conn:
            try:
                yield conn, _fetch(conn, deadline)
            except TimeoutError:
                raise too_slow(self._search_timeout) from None

    def index(self, resource: dict[str, Any]) -> IndexEntries:
        return self._indexer.extract(resource)

    # reads -------------------------------------------------------------------------------

    async def read(self, ctx: RequestContext, resource_type: str, rid: str) -> StoredVersion | None:
        return await self._reads.read(resource_type, rid)

    async def vread(
        self, ctx: RequestContext, resource_type: str, rid: str, version_id: int
    ) -> StoredVersion | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(READ_VERSION, resource_type, rid, version_id)
        return None if row is None else row_to_version(tuple(row))

    async def history(
        self,
        ctx: RequestContext,
        resource_type: str | None,
        rid: str | None,
        *,
        since: str | None,
        at: str | None,
        count: int,
        cursor: str | None,
        visibility: Visibility | None = None,
    ) -> HistoryPage:
        visible = visible_versions(
            self.keys, visibility, resource_type, self._definitions.resource_types
        )
        query = history_query(
            resource_type,
            rid,
            since=since,
            at=at,
            count=count,
            cursor=cursor_number(cursor),
            visible=visible,
        )
        async with self._searching(ctx) as (_, fetch):
            total = (await fetch(query.count_sql, list(query.count_args)))[0][0]
            rows = await fetch(query.page_sql, list(query.page_args))
        versions = [row_to_version(r) for r in rows[:count]]
        next_cursor = str(versions[-1].seq) if len(rows) > count and versions else None
        return HistoryPage(versions=versions, total=total, next_cursor=next_cursor)

    async def search(
        self,
        ctx: RequestContext,
        resource_type: str,
        criteria: Criteria,
        *,
        count: int,
        cursor: str | None = None,
        total: bool = True,
        sort: Sequence[SortKey] = (),
        compartment: tuple[str, str] | None = None,
        visibility: Visibility | None = None,
        contained: ContainedScope = TOP_LEVEL,
    ) -> SearchResult:
        # contained resources are visible with their containers: the caller judges those
        assert visibility is None or not contained.active, "visibility of contained resources"
        plan = search_plan(
            self._definitions,
            resource_type,
            criteria,
            self._base_url,
            compartment,
            visibility,
            terminology=self._terminology,
        )
        keys = self.keys
        async with self._searching(ctx) as (conn, fetch):
            if contained.active:
                return await contained_search(
                    fetch, plan, keys, contained, sort, count, cursor, total
                )
            rids, next_cursor, previous_cursor = await page_of(
                fetch, plan, keys, sort, count, cursor
            )
            versions = await current_versions(conn, rids)
            matched = None
            if total:
                matched = whole_first_page(cursor, count, rids, next_cursor)
            if total and matched is None:
                sql, args = count_plan(plan, keys)
                matched = (await fetch(sql, args))[0][0]
        return SearchResult(versions, matched, next_cursor, previous_cursor)

    async def include(
        self,
        ctx: RequestContext,
        matches: Sequence[StoredVersion],
        includes: Sequence[Include],
        revincludes: Sequence[Include],
        limit: int,
        visibility: Visibility | None = None,
    ) -> list[StoredVersion]:
        if not matches or not (includes or revincludes):
            return []
        async with self._searching(ctx) as (_, fetch):
            return await included(
                fetch,
                self.keys,
                self._reference_bits,
                matches,
                includes,
                revincludes,
                limit,
                visibility,
            )

    # writes ------------------------------------------------------------------------------

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        """The job in one transaction. A deadlock between jobs that lock several resources
        in different orders aborts one of them, which then runs again (it changed nothing)."""
        for attempt in range(1, _JOB_ATTEMPTS + 1):
            try:
                async with self._connection() as conn:
                    return await self._in_transaction(conn, ctx, job)
            except RETRYABLE as exc:
                if attempt == _JOB_ATTEMPTS:
                    raise unavailable(exc) from exc
                log.info("job retried after %s", type(exc).__name__)
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def load(
        self,
        ctx: RequestContext,
        items: Sequence[NewVersion],
        locked: Callable[[], None] | None = None,
    ) -> list[StoredVersion]:
        async def job(tx: Transaction) -> list[StoredVersion]:
            assert isinstance(tx, PostgresTransaction)
            return await bulk.load(tx.connection, self.keys, self._clock, ctx, items, locked)

        async with self._connection() as conn:
            return await self._in_transaction(conn, ctx, job)

    async def _in_transaction(
        self,
        conn: asyncpg.Connection,
        ctx: RequestContext,
        job: Callable[[Transaction], Awaitable[T]],
    ) -> T:
        transaction = conn.transaction()
        await transaction.start()
        try:
            tx = PostgresTransaction(
                conn,
                ctx,
                self._definitions,
                self._indexer,
                self.keys,
                self._clock,
                self._base_url,
                self._terminology,
            )
            result = await job(tx)
        except BaseException:
            # on a lost connection the server has rolled back already: the job's error
            # (not the failed rollback's) says what happened
            with contextlib.suppress(asyncpg.InterfaceError, *TRANSIENT):
                await transaction.rollback()
            raise
        await transaction.commit()
        self._recent.publish(tx.written)
        self._committed()
        return result

    def _committed(self) -> None:
        if self._watcher is not None:
            self._watcher.committed()

    # outbox ------------------------------------------------------------------------------

    async def outbox_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        assert self._outbox is not None, "storage not started"
        try:
            return await self._outbox.after(seq, limit)
        except TRANSIENT as exc:
            self.pool.expire_connections()
            raise unavailable(exc) from exc

    async def refresh_statistics(self) -> None:
        # autovacuum analyses a grown table eventually (a minute or so); searches right
        # after a bulk load were planned on empty-table estimates until then (measured:
        # reference+date 35 ms instead of 2 ms at 3 000 resources). The tables are
        # analysed side by side, on connections of the pool (after the 40 Synthea
        # patients: 0.34 s one after the other, the end of the import waits for it).
        async with self._connection() as conn:
            tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT quote_ident(relname) FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() ORDER BY n_live_tup"
                )
            ]

        async def analyse() -> None:
            async with self._connection() as conn:
                while tables:  # pop(): the largest first
                    await conn.execute(f"ANALYZE {tables.pop()}")

        await asyncio.gather(*(analyse() for _ in range(min(self._pool_max, 3))))

    def recent_version(
        self, resource_type: str, rid: str, version: int
    ) -> tuple[StoredVersion, IndexEntries | None] | None:
        return self._recent.get(resource_type, rid, version)

    def watch_commits(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Calls `callback` (on this event loop) after every commit of this process, after
        every commit in another process that added outbox events (NOTIFY), and once after
        the watch reconnected (events may have been missed meanwhile). Returns the function
        that stops the calls."""
        assert self._watcher is not None, "storage not started"
        return self._watcher.add(callback)

    # subscription delivery state ---------------------------------------------------------

    async def subscription_cursor(self) -> int:
        async with self._connection() as conn:
            return await subscriptions.cursor(conn)

    async def subscription_record(
        self, through: int, events: Sequence[MatchedEvent]
    ) -> list[SubscriptionEvent]:
        async with self._connection() as conn, conn.transaction():
            stored = await subscriptions.record(conn, through, events)
        self._committed()
        return stored

    async def subscription_open(
        self, sid: str, start_seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState:
        now = self._clock.now()
        async with self._connection() as conn:
            opened = await subscriptions.open_state(conn, sid, start_seq, status, owner, now)
        self._committed()
        return opened

    async def subscription_apply(
        self, sid: str, seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState | None:
        now = self._clock.now()
        async with self._connection() as conn, conn.transaction():
            applied = await subscriptions.apply(conn, sid, seq, status, owner, now)
        self._committed()
        return applied

    async def subscription_close(self, sid: str) -> None:
        async with self._connection() as conn, conn.transaction():
            await subscriptions.close(conn, sid)
        self._committed()

    async def subscription_change(self, changes: Sequence[StateChange]) -> None:
        if changes:
            now = self._clock.now()
            async with self._connection() as conn, conn.transaction():
                await subscriptions.change(conn, changes, now)
            self._committed()

    async def subscription_states(self) -> list[SubscriptionState]:
        async with self._connection() as conn:
            return await subscriptions.states(conn)

    async def subscription_state(self, sid: str) -> SubscriptionState | None:
        async with self._connection() as conn:
            return await subscriptions.state(conn, sid)

    async def subscription_leases(
        self, owner: str, sids: Sequence[str], seconds: float
    ) -> set[str]:
        async with self._connection() as conn:
            return await subscriptions.leases(conn, owner, sids, seconds)

    async def subscription_release(self, owner: str) -> None:
        async with self._connection() as conn:
            await subscriptions.release(conn, owner)

    async def subscription_events(
        self, sid: str, first: int, last: int | None, limit: int
    ) -> list[SubscriptionEvent]:
        async with self._connection() as conn:
            return await subscriptions.events(conn, sid, first, last, limit)


def _fetch(conn: asyncpg.Connection, deadline: float | None) -> Fetch:
    """The shared search SQL (`?` placeholders) on an asyncpg connection, each query
    given what is left until `deadline` (the event loop's clock; None: no limit)."""
    loop = asyncio.get_running_loop()

    async def fetch(sql: str, args: list[Any]) -> list[Row]:
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            raise TimeoutError  # the search's time is up: no more queries
        return [tuple(row) for row in await conn.fetch(numbered(sql), *args, timeout=left)]

    return fetch
