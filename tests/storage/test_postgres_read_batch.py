"""Concurrent point reads on PostgreSQL share queries (storage/postgres/read_batch.py):
each read still gets its own resource's current version, a read made after a write sees
it, a cancelled read leaves the others answered, and a failed query fails just the reads
it carried without wedging the ones after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest

from fhir_server.definitions import load_definitions
from fhir_server.outcome import FhirError
from fhir_server.storage.port import RequestContext, Transaction
from fhir_server.storage.postgres import PostgresStorage
from fhir_server.storage.postgres.read_batch import ReadBatcher
from tests.support import postgres

CTX = RequestContext(principal="tester")

Factory = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


def counting(store: PostgresStorage, fail_on: set[int] | None = None) -> tuple[Factory, list[int]]:
    """A connection factory over the store's pool that counts its uses (one per query) and
    fails the uses numbered in `fail_on` as an unreachable database does."""
    used = [0]

    @asynccontextmanager
    async def connection() -> AsyncIterator[asyncpg.Connection]:
        used[0] += 1
        if fail_on and used[0] in fail_on:
            raise FhirError(503)
        async with store.pool.acquire() as conn:
            yield conn

    return connection, used


async def _seed(store: PostgresStorage, n: int) -> None:
    async def job(tx: Transaction) -> None:
        for i in range(n):
            await tx.write("Patient", f"p{i}", {"resourceType": "Patient", "id": f"p{i}"}, "PUT")
        # a second version of every third, a deleted one
        for i in range(0, n, 3):
            body = {"resourceType": "Patient", "id": f"p{i}", "active": True}
            await tx.write("Patient", f"p{i}", body, "PUT")
        await tx.write("Patient", "p1", None, "DELETE")

    await store.run(CTX, job)


def _seeded(store: PostgresStorage, n: int, scenario: Callable[[], Awaitable[None]]) -> None:
    """Runs `scenario` on the started store with n Patients seeded (_seed)."""

    async def run() -> None:
        await store.start()
        try:
            await _seed(store, n)
            await scenario()
        finally:
            await store.close()

    asyncio.run(run())


@pytest.fixture
def store(postgres_url: str) -> PostgresStorage:
    postgres.empty_store(postgres_url)
    return PostgresStorage(postgres_url, load_definitions(), pool_min=1, pool_max=4)


def test_concurrent_reads_share_queries_and_each_gets_its_own_version(
    store: PostgresStorage,
) -> None:
    async def scenario() -> None:
        connection, used = counting(store)
        batcher = ReadBatcher(connection, limit=1)
        keys = [("Patient", f"p{i}") for i in range(30)]
        keys += [("Patient", "missing"), ("Observation", "p2"), ("Patient", "p5")]
        found = await asyncio.gather(*(batcher.read(t, i) for t, i in keys))
        for (rtype, rid), version in zip(keys, found, strict=True):
            expected = await store.vread(CTX, rtype, rid, 2) or await store.vread(
                CTX, rtype, rid, 1
            )
            if expected is None:
                assert version is None, (rtype, rid)
                continue
            assert version is not None, (rtype, rid)
            assert (version.resource_type, version.id) == (rtype, rid)
            assert version.version_id == expected.version_id
            assert version.deleted == expected.deleted
            assert version.data == expected.data
        assert found[1] is not None and found[1].deleted  # p1 was deleted
        assert found[3] is not None and found[3].version_id == 2
        # the first read went alone, the 32 that waited for it as one query
        assert used[0] == 2

    _seeded(store, 30, scenario)


def test_a_read_after_a_write_sees_it_while_other_reads_are_on_their_way(
    store: PostgresStorage,
) -> None:
    async def scenario() -> None:
        for round_ in range(5):
            readers = [asyncio.create_task(store.read(CTX, "Patient", "p2")) for _ in range(8)]

            async def bump(tx: Transaction, n: int = round_) -> None:
                gender = ["male", "female"][n % 2]
                body = {"resourceType": "Patient", "id": "p2", "gender": gender}
                await tx.write("Patient", "p2", body, "PUT")

            await store.run(CTX, bump)
            after = await store.read(CTX, "Patient", "p2")
            assert after is not None and after.version_id == 2 + round_
            await asyncio.gather(*readers)

    _seeded(store, 3, scenario)


def test_a_cancelled_read_leaves_the_others_of_its_query_answered(
    store: PostgresStorage,
) -> None:
    async def scenario() -> None:
        connection, used = counting(store)
        batcher = ReadBatcher(connection, limit=1)
        tasks = [asyncio.create_task(batcher.read("Patient", f"p{i}")) for i in range(6)]
        await asyncio.sleep(0)  # all six have asked: p0 went alone, five wait
        tasks[3].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[3], asyncio.CancelledError)
        for i in (0, 2, 4, 5):
            assert getattr(done[i], "id", None) == f"p{i}"
        assert getattr(done[1], "deleted", None) is True
        assert used[0] == 2

    _seeded(store, 6, scenario)


def test_a_failed_query_fails_its_reads_and_the_next_ones_go_on(
    store: PostgresStorage,
) -> None:
    async def scenario() -> None:
        connection, used = counting(store, fail_on={2})
        batcher = ReadBatcher(connection, limit=1)
        done = await asyncio.gather(
            *(batcher.read("Patient", f"p{i}") for i in range(6)), return_exceptions=True
        )
        assert getattr(done[0], "id", None) == "p0"  # the lone first query
        for result in done[1:]:  # the shared second one failed: all it carried get 503
            assert isinstance(result, FhirError) and result.status == 503
        again = await asyncio.gather(*(batcher.read("Patient", f"p{i}") for i in range(6)))
        assert [v.id if v else None for v in again] == [f"p{i}" for i in range(6)]
        assert used[0] == 4

    _seeded(store, 6, scenario)
