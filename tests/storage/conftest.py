"""The storage conformance suite runs against every adapter of the port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_server.definitions import load_definitions
from fhir_server.storage.port import Storage
from fhir_server.storage.postgres import PostgresStorage
from fhir_server.storage.sqlite import SqliteStorage
from tests.support import postgres


class Runner:
    """Runs coroutines against one started store on a private event loop."""

    def __init__(self, store: Storage, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop

    def __call__(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    loop = asyncio.new_event_loop()
    adapter: Storage
    if request.param == "sqlite":
        adapter = SqliteStorage(tmp_path / "store.sqlite3", load_definitions())
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        postgres.empty_store(url)
        adapter = PostgresStorage(url, load_definitions())
    else:  # pragma: no cover - adapters are added here
        raise AssertionError(request.param)
    loop.run_until_complete(adapter.start())
    try:
        yield Runner(adapter, loop)
    finally:
        loop.run_until_complete(adapter.close())
        loop.close()
