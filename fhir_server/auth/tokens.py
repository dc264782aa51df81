"""Bearer access tokens: verifying them (every request) and minting them (the built-in
authorization server and `fhir-server token`).

A token is a JWS-signed JWT. Its key is found by the header's `kid` among the keys of the
issuers this server trusts (its own, and external ones configured by issuer + JWKS); the
algorithm must be on the allow-list (RS256, ES256: never `none`, never HMAC, so a token
"signed" with a public key as an HMAC secret fails); then `iss` must be the issuer that key
belongs to, `aud` this server, and `exp` / `nbf` must hold.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from fhir_server.auth.keys import SIGNING_ALGORITHM
from fhir_server.config import ExternalIssuer

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30  # clock skew tolerated on exp and nbf
MAX_TOKEN_BYTES = 8192
_CACHE_MAX = 10_000
_REFRESH_AFTER = 60.0  # seconds before an unknown kid may fetch an issuer's JWKS again


class TokenError(Exception):
    """The token is missing, malformed or not acceptable: the answer is 401."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    issuer: str
    organisation: str | None
    scopes: frozenset[str]
    expires: int
    patient: str | None = None
    fhir_user: str | None = None


def builtin_issuer(base: str) -> str:
    return f"{base}/auth"


def mint(
    key: RSAKey,
    base: str,
    subject: str,
    scopes: list[str],
    organisation: str | None,
    lifetime: int,
    organisation_claim: str = "organisation",
    extra: dict[str, Any] | None = None,
) -> str:
    """An access token of the built-in issuer for the FHIR server at `base`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": builtin_issuer(base),
        "sub": subject,
        "aud": base,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(scopes),
        "client_id": subject,
    }
    if organisation:
        claims[organisation_claim] = organisation
    claims.update(extra or {})
    header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key)


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to choose a key (nothing in it is trusted)."""
    try:
        head = token.split(".", 1)[0]
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("the token is not a JWT") from exc
    if not isinstance(decoded, dict):
        raise TokenError("the token is not a JWT")
    return decoded


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload, read only to find who claims to have signed it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a signed JWT")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("the token payload is not JSON") from exc
    if not isinstance(decoded, dict):
        raise TokenError("the token payload is not a JSON object")
    return decoded


class _External:
    """One external issuer's keys, fetched at start and again (rate-limited) on an
    unknown kid, so that its key rotation needs no restart."""

    def __init__(self, config: ExternalIssuer) -> None:
        self.config = config
        self.keys: dict[str, Any] = {}
        self.fetched = 0.0

    def load(self) -> None:
        self.fetched = time.monotonic()
        if self.config.jwks_file:
            document = json.loads(Path(self.config.jwks_file).read_text())
        elif self.config.jwks_url:
            with urllib.request.urlopen(self.config.jwks_url, timeout=5) as response:
                document = json.loads(response.read())
        else:
            raise ValueError(f"issuer {self.config.issuer} has neither jwks_url nor jwks_file")
        key_set = KeySet.import_key_set(document)
        self.keys = {key.kid: key for key in key_set.keys if key.kid}

    def refresh_allowed(self) -> bool:
        return time.monotonic() - self.fetched > _REFRESH_AFTER


class Verifier:
    """Checks bearer tokens; remembers the good ones until they expire, since a client
    sends the same token with every request (a cache hit costs a dict lookup, not ~100 µs
    of RSA)."""

    def __init__(
        self,
        server_key: RSAKey,
        issuers: list[ExternalIssuer],
        audiences: list[str],
        organisation_claim: str,
    ) -> None:
        self._server_public = RSAKey.import_key(server_key.as_dict(private=False))
        self._server_kid = server_key.kid
        self._externals = [_External(config) for config in issuers]
        self._audiences = audiences
        self._organisation_claim = organisation_claim
        self._cache: dict[tuple[str, str], Principal] = {}

    def load_external_keys(self) -> None:
        for external in self._externals:
            try:
                external.load()
            except Exception:  # one unreachable provider must not keep the server down
                log.exception("could not load the keys of issuer %s", external.config.issuer)

    def verify(self, token: str, base: str) -> Principal:
        cached = self._cache.get((token, base))
        if cached is not None:
            if cached.expires + LEEWAY_SECONDS >= time.time():
                return cached
            del self._cache[(token, base)]
        principal = self._verify(token, base)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[(token, base)] = principal
        return principal

    def _verify(self, token: str, base: str) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("the token is too large")
        header = unverified_header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError(f"the token's algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenError("the token names no key (kid)")
        issuer, key, audiences = self._key_for(kid, base)
        try:
            decoded = jwt.decode(token, key, algorithms=ALGORITHMS)
        except JoseError as exc:
            raise TokenError(f"the token's signature does not verify ({exc.error})") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "values": audiences},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise TokenError(f"the token is not acceptable: {exc.description}") from exc
        scope = claims.get("scope", "")
        scopes = scope.split() if isinstance(scope, str) else []
        organisation = claims.get(self._organisation_claim)
        patient = claims.get("patient")
        fhir_user = claims.get("fhirUser")
        return Principal(
            subject=str(claims["sub"]),
            issuer=issuer,
            organisation=organisation if isinstance(organisation, str) else None,
            scopes=frozenset(scopes),
            expires=int(claims["exp"]),
            patient=patient if isinstance(patient, str) else None,
            fhir_user=fhir_user if isinstance(fhir_user, str) else None,
        )

    def _key_for(self, kid: str, base: str) -> tuple[str, Any, list[str]]:
        """The issuer a key belongs to, the key, and the audiences accepted with it."""
        audiences = [base, *self._audiences]
        if kid == self._server_kid:
            return builtin_issuer(base), self._server_public, audiences
        for external in self._externals:
            if kid in external.keys:
                key = external.keys[kid]
                return external.config.issuer, key, audiences + external.config.audience
        for external in self._externals:
            if external.refresh_allowed():
                try:
                    external.load()
                except Exception:
                    log.exception("could not reload the keys of %s", external.config.issuer)
                    continue
                if kid in external.keys:
                    key = external.keys[kid]
                    return external.config.issuer, key, audiences + external.config.audience
        raise TokenError(f"the token's key {kid!r} is not known")
