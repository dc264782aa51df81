"""`fhir-server serve` as installed: tokens are required by default, and the documented way
to register a client and get a token works against the real process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.smart import SmartClient, bearer

pytestmark = pytest.mark.e2e


def test_secure_by_default_and_backend_services_flow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    client = SmartClient("e2e-kommun", "0180")
    client.register(data, "system/*.rs", tmp_path)  # before start: the CLI needs no server
    server = ServerProcess(data, FHIR_SERVER_INSECURE_NO_AUTH="false").start()
    try:
        denied = httpx.get(f"{server.base}/Patient")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        config = httpx.get(f"{server.base}/.well-known/smart-configuration").json()
        form = client.token_form(config["token_endpoint"], "system/Patient.rs")
        answer = httpx.post(config["token_endpoint"], data=form)
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        assert httpx.get(f"{server.base}/Patient", headers=bearer(token)).status_code == 200
        assert httpx.post(config["token_endpoint"], data=form).status_code == 401  # replay
    finally:
        server.stop()
