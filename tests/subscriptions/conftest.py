"""Fixtures: the app in process with deliveries allowed to 127.0.0.1, and receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.subscriptions.receiver import Receiver, receiver
from tests.subscriptions.topics import communication_topic, finished_topic
from tests.support import postgres


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database = postgres.store_for_test(request)
    return Settings(
        **database,
        data_dir=tmp_path / "data",
        base_url="http://fhir.test/fhir",
        subscription_endpoint_hosts=["127.0.0.1"],
        subscription_retry_base=0.05,
        subscription_retry_max=0.3,
        subscription_error_after=3,
        subscription_timeout=2.0,
        insecure_no_auth=True,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://fhir.test") as test_client:
        for rid, topic in (
            ("test-communication", communication_topic()),
            ("test-finished", finished_topic()),
        ):
            response = test_client.put(f"/Basic/{rid}", json={**topic, "id": rid})
            assert response.is_success, response.text
        yield test_client


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def hook2() -> Iterator[Receiver]:
    with receiver() as r:
        yield r
