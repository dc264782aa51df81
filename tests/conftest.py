"""Shared fixtures: an in-process app, a real server process, the external corpora."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.support import pg_cluster, postgres
from tests.support.server_process import ServerProcess

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fhir-data"

# The apps and server processes of the tests deliver rest-hook notifications themselves: the
# default, a worker process beside every SQLite server, would start a second interpreter
# for each of hundreds of apps. The worker is tested where it is named
# (tests/subscriptions/test_worker_process.py, test_e2e.py both ways).
os.environ.setdefault("FHIR_SERVER_SUBSCRIPTION_PROCESS", "false")


def shared_path(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"external corpus {path} is not present")
    return path


def read_tgz_json(archive: Path) -> Iterator[tuple[str, Any]]:
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                handle = tar.extractfile(member)
                assert handle is not None
                yield member.name, orjson.loads(handle.read())


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database: CI's (FHIR_SERVER_TEST_DATABASE_URL), else one this session
    starts; skips when PostgreSQL is not installed."""
    url = os.environ.get(postgres.URL_VARIABLE)
    if url:
        yield url
        return
    if pg_cluster.bin_dir() is None:
        pytest.skip("PostgreSQL is not installed and FHIR_SERVER_TEST_DATABASE_URL is unset")
    cluster = pg_cluster.Cluster(tmp_path_factory.mktemp("postgres")).start()
    try:
        yield cluster.url
    finally:
        cluster.remove()


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for an app in process on a fresh store, security off (the tests of security
    make their own settings: tests/api/security/): the embedded store, or PostgreSQL emptied
    first when FHIR_SERVER_TEST_STORE=postgres."""
    database = postgres.store_for_test(request)
    return Settings(
        **database,
        data_dir=tmp_path / "data",
        max_body_bytes=1_000_000,
        insecure_no_auth=True,
        publish_definitions=False,  # the tests see an empty store; test_published covers it
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app in process, on a fresh embedded store."""
    with TestClient(create_app(settings), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server process for the session's end-to-end tests."""
    process = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()
