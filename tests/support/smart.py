"""A SMART Backend Services client for tests: its key pair, its signed client assertions,
and tokens from a server's /auth/token; plus tokens minted directly with a server's key."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from fhir_server.auth.keys import load_or_create
from fhir_server.auth.tokens import mint
from fhir_server.cli import main as cli

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class SmartClient:
    client_id: str
    organisation: str
    alg: str = "RS384"
    key: Any = field(init=False)

    def __post_init__(self) -> None:
        if self.alg.startswith("ES"):
            self.key = ECKey.generate_key("P-384" if self.alg == "ES384" else "P-256")
        else:
            self.key = RSAKey.generate_key(2048)
        self.key.ensure_kid()

    def public_jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        public["alg"] = self.alg
        return {"keys": [public]}

    def register(self, data_dir: Path, scope: str, tmp: Path) -> None:
        """`fhir-server client add …`, the way an operator registers a client."""
        jwks_file = tmp / f"{self.client_id}.jwks.json"
        jwks_file.write_text(json.dumps(self.public_jwks()))
        cli(
            [
                "client",
                "add",
                "--id",
                self.client_id,
                "--organisation",
                self.organisation,
                "--jwks",
                str(jwks_file),
                "--scope",
                scope,
                "--data-dir",
                str(data_dir),
            ]
        )

    def assertion(self, token_url: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_url,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": self.alg, "kid": self.key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])

    def token_form(self, token_url: str, scope: str, **overrides: Any) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.assertion(token_url, **overrides),
            "scope": scope,
        }


def server_token(
    data_dir: Path,
    scopes: str,
    organisation: str | None = None,
    base: str = "http://testserver",
    lifetime: int = 300,
    subject: str = "test-client",
    **extra: Any,
) -> str:
    """A token of the server's own issuer, minted with its key (what `fhir-server token`
    does), for tests about what tokens allow rather than how they are obtained."""
    key = load_or_create(data_dir / "signing-key.jwk.json")
    return mint(key, base, subject, scopes.split(), organisation, lifetime, extra=extra or None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
