"""Bearer tokens through HTTP: every bad token is a 401 with a Bearer challenge, and no
data in the body; good tokens of the server's issuer and of an external one are accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.auth.keys import load_or_create
from fhir_server.config import ExternalIssuer, Settings
from tests.api.security.conftest import BASE
from tests.support.smart import bearer, server_token

PATIENT = {"resourceType": "Patient", "name": [{"family": "Andersson"}]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"{BASE}/auth",
        "sub": "c1",
        "aud": BASE,
        "exp": now + 300,
        "nbf": now,
        "scope": "system/*.cruds",
    }
    claims.update(overrides)
    return claims


def _signed(key: RSAKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key)


def _assert_401(response: Any, error: bool = True) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="fhir-server"')
    assert ('error="invalid_token"' in challenge) is error
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"
    assert "Andersson" not in response.text


@pytest.fixture
def stored(secure: TestClient, token_for: Any) -> str:
    created = secure.post("/Patient", json=PATIENT, headers=token_for("system/Patient.cruds"))
    assert created.status_code == 201
    return str(created.json()["id"])


def test_no_token_is_401_without_error_code(secure: TestClient, stored: str) -> None:
    _assert_401(secure.get(f"/Patient/{stored}"), error=False)
    _assert_401(secure.get("/Patient"), error=False)
    _assert_401(secure.post("/", json={"resourceType": "Bundle", "type": "batch"}), error=False)
    _assert_401(secure.get("/Patient/$anything"), error=False)


def test_not_a_bearer_token(secure: TestClient, stored: str) -> None:
    _assert_401(secure.get(f"/Patient/{stored}", headers={"Authorization": "Basic dTpw"}))
    _assert_401(secure.get(f"/Patient/{stored}", headers={"Authorization": "Bearer not.a.jwt"}))


def test_a_good_token_reads(secure: TestClient, stored: str, token_for: Any) -> None:
    answer = secure.get(f"/Patient/{stored}", headers=token_for("system/Patient.r"))
    assert answer.status_code == 200
    assert answer.json()["name"][0]["family"] == "Andersson"


def test_bad_tokens_are_401(secure: TestClient, secure_settings: Settings, stored: str) -> None:
    key = load_or_create(secure_settings.signing_key_path)
    now = int(time.time())
    other = RSAKey.generate_key(2048)
    other.ensure_kid()
    good = _signed(key, _claims())
    head, payload, signature = good.split(".")
    tampered_claims = _claims(scope="system/*.cruds protected-identity", sub="someone-else")
    public_pem = key.as_pem(private=False)
    hs_head = _b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    hs_body = _b64(json.dumps(_claims()).encode())
    hs_signature = _b64(
        hmac.new(public_pem, f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest()
    )
    bad = {
        "expired": _signed(key, _claims(exp=now - 120, nbf=now - 600)),
        "not yet valid": _signed(key, _claims(nbf=now + 600)),
        "no exp": _signed(key, {k: v for k, v in _claims().items() if k != "exp"}),
        "wrong audience": _signed(key, _claims(aud="https://other.example/fhir")),
        "wrong issuer": _signed(key, _claims(iss="https://idp.example")),
        "bad signature": f"{head}.{payload}.{signature[:-6]}AAAAAA",
        "tampered payload": f"{head}.{_b64(json.dumps(tampered_claims).encode())}.{signature}",
        "signed by another key with our kid": _signed(other, _claims(), kid=key.kid),
        "unknown kid": _signed(other, _claims()),
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'kid': key.kid}).encode())}.{payload}.",
        "HS256 with the public key as secret": f"{hs_head}.{hs_body}.{hs_signature}",
    }
    assert secure.get(f"/Patient/{stored}", headers=bearer(good)).status_code == 200
    for name, token in bad.items():
        answer = secure.get(f"/Patient/{stored}", headers=bearer(token))
        assert answer.status_code == 401, name
        _assert_401(answer)


def test_public_endpoints_need_no_token(secure: TestClient) -> None:
    statement = secure.get("/metadata")
    assert statement.status_code == 200
    security = statement.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    oauth = security["extension"][0]
    assert oauth["url"].endswith("/oauth-uris")
    assert oauth["extension"][0] == {"url": "token", "valueUri": f"{BASE}/auth/token"}
    config = secure.get("/.well-known/smart-configuration").json()
    assert config["token_endpoint"] == f"{BASE}/auth/token"
    assert "client-confidential-asymmetric" in config["capabilities"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    keys = secure.get(config["jwks_uri"].removeprefix(BASE)).json()["keys"]
    assert keys and all("d" not in key for key in keys)  # public parts only


def test_security_off_is_explicit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", insecure_no_auth=True)
    with TestClient(create_app(settings)) as open_client:
        assert open_client.post("/Patient", json=PATIENT).status_code == 201
        assert "security" not in open_client.get("/metadata").json()["rest"][0]
        assert open_client.get("/.well-known/smart-configuration").status_code == 404


def test_the_default_requires_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FHIR_SERVER_INSECURE_NO_AUTH", raising=False)
    with TestClient(create_app(Settings(data_dir=tmp_path / "d"))) as default:
        assert default.post("/Patient", json=PATIENT).status_code == 401


# external identity providers ------------------------------------------------------------

ISSUER = "https://idp.region.example"


def _external_token(key: RSAKey, **overrides: Any) -> str:
    claims = {"iss": ISSUER, "aud": "https://fhir.region.example", **overrides}
    return _signed(key, _claims(**claims))


def _external_app(tmp_path: Path, issuer: ExternalIssuer) -> TestClient:
    settings = Settings(data_dir=tmp_path / "d", insecure_no_auth=False, auth_issuers=[issuer])
    return TestClient(create_app(settings), base_url=BASE)


def test_external_issuer_from_a_jwks_file(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048)
    key.ensure_kid()
    jwks = tmp_path / "idp.jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    issuer = ExternalIssuer(
        issuer=ISSUER, jwks_file=str(jwks), audience=["https://fhir.region.example"]
    )
    with _external_app(tmp_path, issuer) as app:
        good = bearer(_external_token(key, organisation="0180"))
        assert app.get("/Patient", headers=good).status_code == 200
        wrong = app.get("/Patient", headers=bearer(_external_token(key, iss=f"{BASE}/auth")))
        assert wrong.status_code == 401  # its key cannot speak for our issuer


class _JwksHandler(BaseHTTPRequestHandler):
    document: bytes = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    handler = type("Handler", (_JwksHandler,), {"hits": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_external_issuer_from_a_jwks_url(
    tmp_path: Path, jwks_server: tuple[str, type[_JwksHandler]]
) -> None:
    url, handler = jwks_server
    key = RSAKey.generate_key(2048)
    key.ensure_kid()
    handler.document = json.dumps({"keys": [key.as_dict(private=False)]}).encode()
    issuer = ExternalIssuer(issuer=ISSUER, jwks_url=url, audience=["https://fhir.region.example"])
    with _external_app(tmp_path, issuer) as app:
        assert handler.hits == 1  # fetched at start
        assert app.get("/Patient", headers=bearer(_external_token(key))).status_code == 200
        expired = _external_token(key, exp=int(time.time()) - 100, nbf=int(time.time()) - 500)
        assert app.get("/Patient", headers=bearer(expired)).status_code == 401


def test_cli_token_is_accepted(secure: TestClient, secure_settings: Settings, capsys: Any) -> None:
    from fhir_server.cli import main

    main(
        [
            "token",
            "--subject",
            "dev",
            "--organisation",
            "SE2321000016-A1B2",
            "--scope",
            "system/Patient.rs",
            "--base-url",
            BASE,
            "--data-dir",
            str(secure_settings.data_dir),
        ]
    )
    token = capsys.readouterr().out.strip()
    assert secure.get("/Patient", headers=bearer(token)).status_code == 200
    assert secure.post("/Patient", json=PATIENT, headers=bearer(token)).status_code == 403


def test_server_token_helper_matches(secure_settings: Settings, secure: TestClient) -> None:
    token = server_token(secure_settings.data_dir, "system/Patient.rs")
    assert secure.get("/Patient", headers=bearer(token)).status_code == 200
