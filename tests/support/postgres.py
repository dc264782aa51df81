"""PostgreSQL for tests: the database CI started (FHIR_SERVER_TEST_DATABASE_URL), else a
throw-away cluster of this test session (pg_cluster.py); never a mock.

Tests share one database and start from an empty store: `empty_store` removes every
resource, version, event and index row (the schema, search keys and digest stay, so no
migration or index rebuild runs per test).
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

URL_VARIABLE = "FHIR_SERVER_TEST_DATABASE_URL"
# "postgres": tests/api and the e2e tests run on PostgreSQL instead of SQLite
STORE_VARIABLE = "FHIR_SERVER_TEST_STORE"

DATA_TABLES = (
    "resource",
    "version",
    "outbox",
    "idx_string",
    "idx_token",
    "idx_reference",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_uri",
    "idx_composite",
    "idx_fulltext",
    "contained",
    "subscription_state",
    "subscription_event",
    "subscription_cursor",
)


def wanted_for_api() -> bool:
    return os.environ.get(STORE_VARIABLE, "sqlite") == "postgres"


def store_for_test(request: pytest.FixtureRequest) -> dict[str, str]:
    """The Settings that choose an app's store in a test: none (the embedded store in its
    data directory), or the test cluster's `database_url`, emptied first, when
    FHIR_SERVER_TEST_STORE=postgres."""
    if not wanted_for_api():
        return {}
    url = request.getfixturevalue("postgres_url")
    empty_store(url)
    return {"database_url": url}


async def _empty(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        # a database at an older schema version lacks the later tables until a store starts
        tables = [
            table
            for table in DATA_TABLES
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        ]
        if "resource" in tables:
            await conn.execute(
                f"TRUNCATE {', '.join(tables)};"
                " ALTER SEQUENCE resource_rid RESTART; ALTER SEQUENCE version_seq RESTART"
            )
    finally:
        await conn.close()


def empty_store(url: str) -> None:
    asyncio.run(_empty(url))


async def _create(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def fresh_database(url: str, name: str) -> str:
    """A new, empty database on the server of `url`; its URL."""
    asyncio.run(_create(url, name))
    return url.rsplit("/", 1)[0] + "/" + name
