"""Pooled PostgreSQL connections come back clean without asyncpg's per-release RESET round
trip (storage/postgres/adapter.py `_reset_connection`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fhir_server.definitions import load_definitions
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
