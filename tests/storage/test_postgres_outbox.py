"""The PostgreSQL outbox read from several processes: no event skipped when seqs commit out
of order, and commits anywhere wake watchers (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.ids import new_id
from fhir_server.storage.port import MatchedEvent, RequestContext, Transaction
from fhir_server.storage.postgres import PostgresStorage
from tests.support.postgres import fresh_database

CTX = RequestContext()


def _patient(rid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid}


@contextlib.asynccontextmanager
async def two_processes(url: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two store instances on one database, as two server processes have them."""
    first = PostgresStorage(url, load_definitions())
    second = PostgresStorage(url, load_definitions())
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest.fixture
def url(postgres_url: str) -> str:
    return fresh_database(postgres_url, "outbox_test")


def test_a_late_commit_of_an_earlier_seq_is_not_skipped(url: str) -> None:
    async def run() -> None:
        async with two_processes(url) as (first, second):
            written = asyncio.Event()
            release = asyncio.Event()

            async def slow(tx: Transaction) -> int:
                version = await tx.write("Patient", "early", _patient("early"), "PUT")
                written.set()
                await release.wait()  # holds the earlier seq uncommitted
                return version.seq

            async def quick(tx: Transaction) -> int:
                return (await tx.write("Patient", "late", _patient("late"), "PUT")).seq

            slow_task = asyncio.create_task(first.run(CTX, slow))
            try:
                await written.wait()
                late_seq = await second.run(CTX, quick)  # committed while the earlier is open
                reader = asyncio.create_task(second.outbox_after(0, 10))
                await asyncio.sleep(0.3)
                assert not reader.done()  # it waits for the open transaction to end
            finally:
                release.set()
            early_seq = await slow_task
            events = await reader
            assert early_seq < late_seq
            assert [e["seq"] for e in events] == [early_seq, late_seq]
            assert [e["id"] for e in events] == ["early", "late"]

    asyncio.run(run())


def test_commits_in_another_process_wake_watchers(url: str) -> None:
    async def run() -> None:
        async with two_processes(url) as (watcher, writer):
            woken = asyncio.Event()
            stop = watcher.watch_commits(woken.set)
            await asyncio.sleep(0.3)  # the listening connection is up

            async def job(tx: Transaction) -> None:
                await tx.write("Patient", "w", _patient("w"), "PUT")

            await writer.run(CTX, job)
            await asyncio.wait_for(woken.wait(), timeout=5)
            stop()
            events = await watcher.outbox_after(0, 10)
            assert [e["id"] for e in events] == ["w"]

    asyncio.run(run())


def test_events_another_process_recorded_are_not_numbered_again(url: str) -> None:
    """Two processes' matchers that read the same outbox events number them once."""

    async def run() -> None:
        async with two_processes(url) as (first, second):
            await first.subscription_open("s", 1, "active", CTX)
            event = MatchedEvent("s", 7, "Patient", "p", 1, "PUT", "2026-01-01T00:00:00.000000Z")
            later = MatchedEvent("s", 9, "Patient", "q", 1, "PUT", "2026-01-01T00:00:01.000000Z")
            assert [e.number for e in await first.subscription_record(8, [event])] == [1]
            again = await second.subscription_record(10, [event, later])
            assert [(e.number, e.seq) for e in again] == [(2, 9)]
            assert await second.subscription_cursor() == 10
            events = await first.subscription_events("s", 1, None, 10)
            assert [(e.number, e.seq) for e in events] == [(1, 7), (2, 9)]

    asyncio.run(run())


def test_a_follower_misses_no_create_under_concurrent_drawn_ids(url: str) -> None:
    """Creates under drawn ids skip the resource lock and read; their transactions must
    still take the seq holders' lock before they take a seq, or a follower reading between
    the two sees a later seq commit first and moves past the earlier one for good."""

    async def run() -> None:
        async with two_processes(url) as (writer, reader):
            total, clients = 1200, 16
            seqs: list[int] = []
            done = asyncio.Event()

            async def create(tx: Transaction) -> int:
                return (await tx.write("Patient", new_id(), _patient("x"), "POST")).seq

            async def client(n: int) -> None:
                for _ in range(n):
                    seqs.append(await writer.run(CTX, create))

            async def follow() -> list[int]:
                cursor, seen = 0, []
                while not done.is_set() or cursor < max(seqs, default=0):
                    rows = await reader.outbox_after(cursor, 256)
                    if rows:
                        seen += [row["seq"] for row in rows]
                        cursor = rows[-1]["seq"]
                    else:
                        await asyncio.sleep(0)
                return seen

            following = asyncio.create_task(follow())
            await asyncio.gather(*(client(total // clients) for _ in range(clients)))
            done.set()
            seen = await asyncio.wait_for(following, timeout=30)
            assert len(seqs) == total
            assert seen == sorted(seqs)  # each once, in order, none skipped

    asyncio.run(run())


def test_an_open_transaction_outside_the_store_holds_no_event_back(url: str) -> None:
    """Only the store's own writers are waited for: a transaction left open on the same
    cluster (a `BEGIN` in psql that changed a row) holds no notification back."""

    async def run() -> None:
        async with two_processes(url) as (writer, reader):
            other = await asyncpg.connect(url)
            try:
                await other.execute("BEGIN")
                await other.execute("CREATE TEMP TABLE scratch (x int)")
                await other.execute("INSERT INTO scratch VALUES (1)")
                # it has a transaction id, older than the write's
                assert await other.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")

                async def create(tx: Transaction) -> int:
                    return (await tx.write("Patient", "p", _patient("p"), "PUT")).seq

                seq = await writer.run(CTX, create)
                loop = asyncio.get_running_loop()
                started = loop.time()
                events = await reader.outbox_after(0, 10)
                assert [e["seq"] for e in events] == [seq]
                assert loop.time() - started < 1.0  # not the reader's 2 s wait, given up
            finally:
                await other.close()

    asyncio.run(run())
