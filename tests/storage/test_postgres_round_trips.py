"""Round trips the PostgreSQL adapter saves, and why that is safe: pooled connections come
back clean without asyncpg's per-release RESET (adapter.py `_reset_connection`); a create
under an id the server drew takes no lock (transaction.py), and should that id exist after
all, the create fails whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fhir_server.definitions import load_definitions
from fhir_server.ids import looks_drawn, new_id
from fhir_server.storage.port import RequestContext, Transaction
from fhir_server.storage.postgres import PostgresStorage
from tests.support import postgres

CTX = RequestContext(principal="tester")


def test_a_job_cancelled_mid_transaction_leaves_nothing_and_a_clean_pool(
    postgres_url: str, tmp_path: Path
) -> None:
    postgres.empty_store(postgres_url)

    async def scenario() -> None:
        store = PostgresStorage(postgres_url, load_definitions(), pool_min=1, pool_max=1)
        await store.start()
        try:
            written = asyncio.Event()

            async def job(tx: Transaction) -> None:
                await tx.write("Patient", "half", {"resourceType": "Patient"}, "PUT")
                written.set()
                await asyncio.sleep(30)  # the client went away here

            task = asyncio.create_task(store.run(CTX, job))
            await asyncio.wait_for(written.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the one pooled connection is the one the job had: it must be usable and
            # outside any transaction, and the job's write must be gone
            assert await store.read(CTX, "Patient", "half") is None
            async with store.pool.acquire() as conn:
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SELECT count(*) FROM resource") == 0

            async def next_job(tx: Transaction) -> None:
                await tx.write("Patient", "whole", {"resourceType": "Patient"}, "PUT")

            await store.run(CTX, next_job)
            assert (await store.read(CTX, "Patient", "whole")) is not None
        finally:
            await store.close()

    asyncio.run(scenario())


def test_drawn_ids() -> None:
    assert all(looks_drawn(new_id()) for _ in range(100))
    assert not looks_drawn("kommun-0880")
    assert not looks_drawn("6ba7b810-9dad-11d1-80b4-00c04fd430c8")  # a UUID, not random
    assert not looks_drawn(new_id().upper())


def test_a_create_under_a_drawn_id_that_exists_fails_whole(
    postgres_url: str, tmp_path: Path
) -> None:
    postgres.empty_store(postgres_url)
    taken = new_id()

    async def scenario() -> None:
        store = PostgresStorage(postgres_url, load_definitions())
        await store.start()
        try:

            async def first(tx: Transaction) -> None:
                await tx.write(
                    "Patient", taken, {"resourceType": "Patient", "gender": "male"}, "POST"
                )

            await store.run(CTX, first)

            async def again(tx: Transaction) -> None:
                await tx.write("Patient", "other", {"resourceType": "Patient"}, "PUT")
                await tx.write("Patient", taken, {"resourceType": "Patient"}, "POST")

            with pytest.raises(Exception):  # noqa: B017 - the store's unique (type, id)
                await store.run(CTX, again)
            kept = await store.read(CTX, "Patient", taken)
            assert kept is not None and kept.version_id == 1 and b"male" in (kept.data or b"")
            assert await store.read(CTX, "Patient", "other") is None
        finally:
            await store.close()

    asyncio.run(scenario())
