"""The SQLite adapter of the storage port."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fhir_server.definitions import Definitions
from fhir_server.search.compartments import search_plan
from fhir_server.search.contained import TOP_LEVEL, ContainedScope
from fhir_server.search.index import IndexEntries
from fhir_server.search.indexer import Indexer
from fhir_server.search.narrowing import Visibility
from fhir_server.search.results import Include, SortKey
from fhir_server.storage.clock import MonotonicClock
from fhir_server.storage.history_sql import cursor_number, history_query
from fhir_server.storage.limits import search_time
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
from fhir_server.storage.recent import RecentVersions
from fhir_server.storage.sqlite import subscriptions
from fhir_server.storage.sqlite.checkpoint import Checkpointer
from fhir_server.storage.sqlite.connection import (
    apply_schema,
    open_connection,
    search_limits,
    time_limit,
)
from fhir_server.storage.sqlite.contained_search import contained_search
from fhir_server.storage.sqlite.index_rows import SearchKeys
from fhir_server.storage.sqlite.queries import (
    CURRENT_BY_KEY,
    VERSION_BY_KEY,
    current_versions,
    row_to_version,
)
from fhir_server.storage.sqlite.reindex import existing_index, prepare_index
from fhir_server.storage.sqlite.search_results import (
    included,
    page_of,
    reference_bits,
    sqlite_fetch,
    visible_versions,
    whole_first_page,
)
from fhir_server.storage.sqlite.search_sql import count_plan
from fhir_server.storage.sqlite.transaction import SqliteTransaction
from fhir_server.storage.sqlite.writer import Writer, drive

if TYPE_CHECKING:
    from fhir_server.terminology.service import Terminology

T = TypeVar("T")


class SqliteStorage:
    def __init__(
        self,
        path: Path,
        definitions: Definitions,
        *,
        synchronous: str = "NORMAL",
        group_commit_max: int = 256,
        reader_threads: int = 4,
        base_url: str | None = None,
        terminology: Terminology | None = None,
        secondary: bool = False,
        search_timeout: float = 30.0,
    ) -> None:
        # seconds a query off the event loop (searches, history, ...) may run (limits.py)
        self._search_timeout = search_timeout
        # a second process on a store another process owns (the subscription delivery
        # worker): it changes no schema, rebuilds no index and leaves the write-ahead log's
        # checkpoints to the owner
        self._secondary = secondary
        self._base_url = base_url
        # the ValueSets and CodeSystems token :in, :not-in, :above and :below use
        self._terminology = terminology
        self._path = path
        self._definitions = definitions
        self._synchronous = synchronous
        self._group_commit_max = group_commit_max
        self._reader_threads = reader_threads
        self._indexer = Indexer(definitions, base_url=base_url)
        self._clock = MonotonicClock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._writer: Writer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._inline: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._keys: SearchKeys | None = None
        self._reference_bits: dict[str, int] = {}
        self._commit_watchers: list[Callable[[], None]] = []
        self._recent = RecentVersions()

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        write_conn = open_connection(self._path, self._synchronous)
        if self._secondary:
            try:
                self._keys = existing_index(write_conn, self._definitions, self._indexer)
            except BaseException:
                write_conn.close()
                raise
        else:
            apply_schema(write_conn)
            # before any job runs: a rebuild must not interleave with writes
            self._keys = prepare_index(write_conn, self._definitions, self._indexer)
        self._reference_bits = reference_bits(
            self._keys, self._indexer.indexed, self._definitions.resource_types
        )
        write_conn.execute("PRAGMA wal_autocheckpoint=0")
        # when the log starts over, a file grown under a burst is cut back to 64 MB
        write_conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        self._connections.append(write_conn)
        checkpointer: Checkpointer | None = None
        if not self._secondary:
            checkpointer = Checkpointer(open_connection(self._path, self._synchronous))
            checkpointer.start()
        self._checkpointer = checkpointer
        self._writer = Writer(write_conn, self._make_transaction, self._group_commit_max)

        def committed() -> None:
            for watcher in list(self._commit_watchers):
                watcher()

        self._writer.on_committed = committed
        self._writer.on_written = self._recent.publish
        if checkpointer is not None:
            self._writer.on_commit = lambda: checkpointer.after_commit(write_conn)
        self._writer.start()
        self._executor = ThreadPoolExecutor(self._reader_threads, thread_name_prefix="sqlite-read")
        self._inline = self._open_reader()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _open_reader(self) -> sqlite3.Connection:
        conn = open_connection(self._path, self._synchronous)
        conn.execute("PRAGMA query_only=ON")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _thread_reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_reader()
            self._local.conn = conn
        return conn

    async def _in_reader(
        self, work: Callable[[sqlite3.Connection], T], ctx: RequestContext | None = None
    ) -> T:
        """`work` on a reader thread; for a client's request (`ctx`), within the time a
        search may take (storage/limits.py)."""
        assert self._executor is not None, "storage not started"
        loop = asyncio.get_running_loop()
        seconds = search_time(ctx, self._search_timeout)

        def limited() -> T:
            conn = self._thread_reader()
            with search_limits(), time_limit(conn, seconds):
                return work(conn)

        return await loop.run_in_executor(self._executor, limited)

    async def _in_writer(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the writer's connection as a job: serialised, in a group commit."""
        assert self._writer is not None, "storage not started"

        async def job(tx: SqliteTransaction) -> T:
            return work(tx.connection)

        result: T = await self._writer.submit(RequestContext(), job)
        return result

    def _make_transaction(self, conn: sqlite3.Connection, context: Any) -> SqliteTransaction:
        assert self._keys is not None, "storage not started"
        return SqliteTransaction(
            conn,
            context,
            self._definitions,
            self._indexer,
            self._keys,
            self._clock,
            self._base_url,
            self._terminology,
        )

    def index(self, resource: dict[str, Any]) -> IndexEntries:
        return self._indexer.extract(resource)

    # reads -------------------------------------------------------------------------------
    # Point reads by primary key take microseconds: they run on the event loop's own
    # connection, where a thread hop would cost more than the query.

    async def read(self, ctx: RequestContext, resource_type: str, rid: str) -> StoredVersion | None:
        assert self._inline is not None, "storage not started"
        row = self._inline.execute(CURRENT_BY_KEY, (resource_type, rid)).fetchone()
        return None if row is None else row_to_version(row)

    async def vread(
        self, ctx: RequestContext, resource_type: str, rid: str, version_id: int
    ) -> StoredVersion | None:
        assert self._inline is not None, "storage not started"
        row = self._inline.execute(VERSION_BY_KEY, (resource_type, rid, version_id)).fetchone()
        return None if row is None else row_to_version(row)

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
        assert self._keys is not None, "storage not started"
        visible = visible_versions(
            self._keys, visibility, resource_type, self._definitions.resource_types
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

        def work(conn: sqlite3.Connection) -> HistoryPage:
            (total,) = conn.execute(query.count_sql, query.count_args).fetchone()
            rows = conn.execute(query.page_sql, query.page_args).fetchall()
            versions = [row_to_version(r) for r in rows[:count]]
            next_cursor = str(versions[-1].seq) if len(rows) > count and versions else None
            return HistoryPage(versions=versions, total=total, next_cursor=next_cursor)

        return await self._in_reader(work, ctx)

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
        assert self._keys is not None, "storage not started"
        keys = self._keys

        def work(conn: sqlite3.Connection) -> SearchResult:
            if contained.active:
                found: SearchResult = drive(
                    contained_search(
                        sqlite_fetch(conn), plan, keys, contained, sort, count, cursor, total
                    )
                )
                return found
            rids, next_cursor, previous_cursor = drive(
                page_of(sqlite_fetch(conn), plan, keys, sort, count, cursor)
            )
            versions = current_versions(conn, rids)
            matched = None
            if total:
                matched = whole_first_page(cursor, count, rids, next_cursor)
            if total and matched is None:
                sql, args = count_plan(plan, keys)
                (matched,) = conn.execute(sql, args).fetchone()
            return SearchResult(versions, matched, next_cursor, previous_cursor)

        return await self._in_reader(work, ctx)

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
        assert self._keys is not None, "storage not started"
        keys, bits = self._keys, self._reference_bits

        def work(conn: sqlite3.Connection) -> list[StoredVersion]:
            found: list[StoredVersion] = drive(
                included(
                    sqlite_fetch(conn),
                    keys,
                    bits,
                    matches,
                    includes,
                    revincludes,
                    limit,
                    visibility,
                )
            )
            return found

        return await self._in_reader(work, ctx)

    # writes ------------------------------------------------------------------------------

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        assert self._writer is not None, "storage not started"
        result: T = await self._writer.submit(ctx, job)
        return result

    async def load(
        self,
        ctx: RequestContext,
        items: Sequence[NewVersion],
        locked: Callable[[], None] | None = None,
    ) -> list[StoredVersion]:
        # the writer's own path is the fast one here: one transaction on its thread, and
        # the writer runs one job at a time (everything is locked when it starts)
        async def job(tx: Transaction) -> list[StoredVersion]:
            if locked is not None:
                locked()
            return [
                await tx.write(i.resource_type, i.id, i.resource, i.method, i.index) for i in items
            ]

        return await self.run(ctx, job)

    async def outbox_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        def work(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT seq, type, id, version, method, at, principal, organisation"
                " FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
            keys = ("seq", "type", "id", "version", "method", "at", "principal", "organisation")
            return [dict(zip(keys, row, strict=True)) for row in rows]

        return await self._in_reader(work)

    async def refresh_statistics(self) -> None:
        """None are gathered: the search SQL is shaped for SQLite's planner without them
        (no sqlite_stat1), as measured at a million resources (bench/search.py)."""
        return None

    def recent_version(
        self, resource_type: str, rid: str, version: int
    ) -> tuple[StoredVersion, IndexEntries | None] | None:
        return self._recent.get(resource_type, rid, version)

    def watch_commits(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._commit_watchers.append(callback)

        def stop() -> None:
            if callback in self._commit_watchers:
                self._commit_watchers.remove(callback)

        return stop

    # subscription delivery state ---------------------------------------------------------

    async def subscription_cursor(self) -> int:
        return await self._in_reader(subscriptions.cursor)

    async def subscription_record(
        self, through: int, events: Sequence[MatchedEvent]
    ) -> list[SubscriptionEvent]:
        return await self._in_writer(lambda conn: subscriptions.record(conn, through, events))

    async def subscription_open(
        self, sid: str, start_seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState:
        now = self._clock.now()
        return await self._in_writer(
            lambda conn: subscriptions.open_state(conn, sid, start_seq, status, owner, now)
        )

    async def subscription_apply(
        self, sid: str, seq: int, status: str, owner: RequestContext
    ) -> SubscriptionState | None:
        now = self._clock.now()
        return await self._in_writer(
            lambda conn: subscriptions.apply(conn, sid, seq, status, owner, now)
        )

    async def subscription_close(self, sid: str) -> None:
        await self._in_writer(lambda conn: subscriptions.close(conn, sid))

    async def subscription_change(self, changes: Sequence[StateChange]) -> None:
        if changes:
            now = self._clock.now()
            await self._in_writer(lambda conn: subscriptions.change(conn, changes, now))

    async def subscription_states(self) -> list[SubscriptionState]:
        return await self._in_reader(subscriptions.states)

    async def subscription_state(self, sid: str) -> SubscriptionState | None:
        return await self._in_reader(lambda conn: subscriptions.state(conn, sid))

    async def subscription_leases(
        self, owner: str, sids: Sequence[str], seconds: float
    ) -> set[str]:
        if not sids:
            return set()
        now = time.time()  # both processes on one machine: one clock
        return await self._in_writer(
            lambda conn: subscriptions.leases(conn, owner, sids, seconds, now)
        )

    async def subscription_release(self, owner: str) -> None:
        await self._in_writer(lambda conn: subscriptions.release(conn, owner))

    async def subscription_events(
        self, sid: str, first: int, last: int | None, limit: int
    ) -> list[SubscriptionEvent]:
        return await self._in_reader(
            lambda conn: subscriptions.events(conn, sid, first, last, limit)
        )
