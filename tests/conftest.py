"""Shared fixtures: an in-process app, a real server process, the external corpora."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.support.server_process import ServerProcess

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fhir-data"


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an app in process on a fresh embedded store, security off (the tests of
    security make their own settings: tests/api/security/)."""
    return Settings(
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
