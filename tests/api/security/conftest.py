"""An app in process with security on (the secure default), on a fresh store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.support.smart import bearer, server_token

BASE = "http://testserver"
TOKEN_URL = f"{BASE}/auth/token"


@pytest.fixture
def secure_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_body_bytes=1_000_000, insecure_no_auth=False)


@pytest.fixture
def secure(secure_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secure_settings), base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def token_for(secure_settings: Settings):  # type: ignore[no-untyped-def]
    """Headers carrying a token of the server's issuer with these scopes."""

    def make(scopes: str, **kw: object) -> dict[str, str]:
        return bearer(server_token(secure_settings.data_dir, scopes, **kw))  # type: ignore[arg-type]

    return make


@pytest.fixture
def create(secure: TestClient, token_for: Any) -> Callable[[dict[str, Any]], str]:
    """POST a resource as an administrator (system/*.cruds); the id it got."""
    admin = token_for("system/*.cruds")

    def make(resource: dict[str, Any]) -> str:
        answer = secure.post(f"/{resource['resourceType']}", json=resource, headers=admin)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return make
