"""A real server process with the MLLP listener on, shared by the module's tests: on the
embedded store, or on PostgreSQL (emptied first) when FHIR_SERVER_TEST_STORE=postgres."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres
from tests.support.server_process import ServerProcess, free_port

MAX_FRAME = 65536
IDLE_SECONDS = 3


@pytest.fixture(scope="module")
def mllp_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[ServerProcess, int]]:
    database: dict[str, str] = {}
    if postgres.wanted_for_api():
        url = request.getfixturevalue("postgres_url")
        postgres.empty_store(url)
        database["FHIR_SERVER_DATABASE_URL"] = url
    port = free_port()
    process = ServerProcess(
        tmp_path_factory.mktemp("mllp"),
        FHIR_SERVER_MLLP_PORT=str(port),
        FHIR_SERVER_MLLP_MAX_FRAME_BYTES=str(MAX_FRAME),
        FHIR_SERVER_MLLP_TIMEOUT=str(IDLE_SECONDS),
        **database,
    ).start()
    yield process, port
    process.stop()
