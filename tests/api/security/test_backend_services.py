"""SMART Backend Services against the built-in authorization server, through HTTP: a client
registered by the CLI signs an assertion with its own key, gets a token, calls the API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.cli import main as cli
from fhir_server.config import Settings
from tests.api.security.conftest import BASE, TOKEN_URL
from tests.support.smart import SmartClient, bearer

KOMMUN = "0180"
SCOPES = "system/Patient.cruds system/Organization.cruds system/Communication.cruds system/Task.rs"
KOMMUNKOD = "urn:oid:1.2.752.129.2.2.1.17"


@pytest.fixture
def registered(secure_settings: Settings, tmp_path: Path) -> SmartClient:
    client = SmartClient("kommun-0180", KOMMUN, alg="RS384")
    client.register(secure_settings.data_dir, SCOPES, tmp_path)
    return client


def _token(app: TestClient, client: SmartClient, scope: str, **overrides: Any) -> Any:
    return app.post("/auth/token", data=client.token_form(TOKEN_URL, scope, **overrides))


def test_full_flow(secure: TestClient, registered: SmartClient) -> None:
    wanted = "system/Patient.cruds system/Organization.cruds system/Communication.cruds"
    answer = _token(secure, registered, wanted)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == wanted
    assert 0 < body["expires_in"] <= 300
    headers = bearer(body["access_token"])
    created = secure.post(
        "/Patient", json={"resourceType": "Patient", "active": True}, headers=headers
    )
    assert created.status_code == 201
    patient = created.json()["id"]
    # the municipality has no care relation to this patient yet: it does not exist for it
    assert secure.get(f"/Patient/{patient}", headers=headers).status_code == 404
    kommun = {
        "resourceType": "Organization",
        "identifier": [{"system": KOMMUNKOD, "value": KOMMUN}],
        "name": "Stockholms stad",
    }
    org = secure.post("/Organization", json=kommun, headers=headers).json()["id"]
    notice = {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "recipient": [{"reference": f"Organization/{org}"}],
    }
    assert secure.post("/Communication", json=notice, headers=headers).status_code == 201
    read = secure.get(f"/Patient/{patient}", headers=headers)
    assert read.status_code == 200
    # the token carries only what was granted: Task was not asked for
    assert secure.get("/Task", headers=headers).status_code == 403


def test_es384_client(secure: TestClient, secure_settings: Settings, tmp_path: Path) -> None:
    client = SmartClient("primarvard", "SE2321000016-PV01", alg="ES384")
    client.register(secure_settings.data_dir, "system/*.rs", tmp_path)
    answer = _token(secure, client, "system/Patient.rs")
    assert answer.status_code == 200, answer.text
    assert secure.get("/Patient", headers=bearer(answer.json()["access_token"])).status_code == 200


def test_replayed_assertion_is_refused(secure: TestClient, registered: SmartClient) -> None:
    form = registered.token_form(TOKEN_URL, "system/Patient.rs")
    assert secure.post("/auth/token", data=form).status_code == 200
    again = secure.post("/auth/token", data=form)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    assert "access_token" not in again.json()


def test_replay_is_refused_after_a_restart(
    secure_settings: Settings, registered: SmartClient
) -> None:
    form = registered.token_form(TOKEN_URL, "system/Patient.rs")
    with TestClient(create_app(secure_settings), base_url=BASE) as first:
        assert first.post("/auth/token", data=form).status_code == 200
    with TestClient(create_app(secure_settings), base_url=BASE) as second:
        assert second.post("/auth/token", data=form).status_code == 401


def test_bad_assertions(
    secure: TestClient, registered: SmartClient, secure_settings: Settings, tmp_path: Path
) -> None:
    now = int(time.time())
    stranger = SmartClient("kommun-0180", KOMMUN)  # same id, a key never registered
    cases = {
        "wrong audience": registered.token_form(
            TOKEN_URL, "system/Patient.rs", aud=f"{BASE}/other"
        ),
        "expired": registered.token_form(TOKEN_URL, "system/Patient.rs", exp=now - 100),
        "exp too far ahead": registered.token_form(TOKEN_URL, "system/Patient.rs", exp=now + 3600),
        "sub differs": registered.token_form(TOKEN_URL, "system/Patient.rs", sub="x"),
        "no jti": registered.token_form(TOKEN_URL, "system/Patient.rs", jti=None),
        "no exp": registered.token_form(TOKEN_URL, "system/Patient.rs", exp=None),
        "unknown key": stranger.token_form(TOKEN_URL, "system/Patient.rs"),
        "unknown client": SmartClient("nobody", KOMMUN).token_form(TOKEN_URL, "system/Patient.rs"),
    }
    for name, form in cases.items():
        answer = secure.post("/auth/token", data=form)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"] == "invalid_client", name
        assert "access_token" not in answer.json()


def test_oauth_errors(secure: TestClient, registered: SmartClient) -> None:
    form = registered.token_form(TOKEN_URL, "system/Observation.rs")
    assert secure.post("/auth/token", data=form).json()["error"] == "invalid_scope"
    form = registered.token_form(TOKEN_URL, "system/Patient.rs")
    form["grant_type"] = "password"
    answer = secure.post("/auth/token", data=form)
    assert (answer.status_code, answer.json()["error"]) == (400, "unsupported_grant_type")
    form = registered.token_form(TOKEN_URL, "system/Patient.rs")
    form["client_assertion_type"] = "urn:x"
    assert secure.post("/auth/token", data=form).json()["error"] == "invalid_request"
    json_body = secure.post("/auth/token", json=form)
    assert json_body.json()["error"] == "invalid_request"


def test_granted_scopes_are_narrowed(secure: TestClient, registered: SmartClient) -> None:
    answer = _token(secure, registered, "system/Patient.rs system/Task.cruds openid")
    assert answer.json()["scope"] == "system/Patient.rs"  # Task.cruds exceeds Task.rs


def test_client_commands(secure_settings: Settings, tmp_path: Path, capsys: Any) -> None:
    client = SmartClient("hsa-client", "SE2321000016-ABCD")
    client.register(secure_settings.data_dir, "system/*.rs", tmp_path)
    cli(["client", "list", "--data-dir", str(secure_settings.data_dir)])
    assert "hsa-client\tSE2321000016-ABCD\tsystem/*.rs" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # not an HSA-id nor a kommunkod
        SmartClient("bad-org", "Stockholm").register(
            secure_settings.data_dir, "system/*.rs", tmp_path
        )
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [client.key.as_dict(private=True)]}))
    with pytest.raises(SystemExit):  # private keys are refused
        cli(
            [
                "client",
                "add",
                "--id",
                "p",
                "--organisation",
                "0180",
                "--jwks",
                str(private),
                "--data-dir",
                str(secure_settings.data_dir),
            ]
        )
    cli(["client", "remove", "--id", "hsa-client", "--data-dir", str(secure_settings.data_dir)])
    assert capsys.readouterr().out == "removed hsa-client\n"
    cli(["client", "list", "--data-dir", str(secure_settings.data_dir)])
    assert "hsa-client" not in capsys.readouterr().out
