"""The HTTP endpoints of the built-in authorization server and SMART discovery.

`POST /auth/token`: the OAuth 2.0 client credentials grant with a `private_key_jwt` client
assertion (RFC 7523 section 2.2, SMART Backend Services): the client signs a short JWT with
its private key; the server checks it against the public keys the client was registered with,
refuses a `jti` it has seen, and answers with a short-lived access token.
`GET /.well-known/smart-configuration` and `GET /auth/jwks` describe it to clients.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.auth.keys import public_jwks
from fhir_server.auth.registry import Client
from fhir_server.auth.scopes import grantable
from fhir_server.auth.security import Security
from fhir_server.auth.tokens import (
    LEEWAY_SECONDS,
    TokenError,
    builtin_issuer,
    mint,
    unverified_claims,
    unverified_header,
)
from fhir_server.outcome import not_found

CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART Backend Services requires RS384 and ES384; RS256 and ES256 are common besides.
ASSERTION_ALGORITHMS = ["RS384", "ES384", "RS256", "ES256"]
MAX_ASSERTION_LIFETIME = 300  # SMART: exp no more than five minutes in the future
MAX_FORM_BYTES = 64 * 1024
SUPPORTED_SCOPES = [
    "system/*.cruds",
    "system/*.rs",
    "system/*.read",
    "system/*.write",
    "user/*.cruds",
    "patient/*.cruds",
]


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _security(request: Request) -> Security:
    security: Security | None = request.app.state.security
    if security is None:
        raise not_found("This server runs without security: it has no authorization server")
    return security


def _json(value: dict[str, Any], status: int = 200) -> Response:
    # tokens must not be cached by anything on the way (RFC 6749 section 5.1)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return Response(json.dumps(value), status, headers, media_type="application/json")


async def smart_configuration(request: Request) -> Response:
    security = _security(request)
    base = security.base(request)
    return _json(
        {
            "issuer": builtin_issuer(base),
            "jwks_uri": f"{base}/auth/jwks",
            "token_endpoint": f"{base}/auth/token",
            "grant_types_supported": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "scopes_supported": SUPPORTED_SCOPES,
            "response_types_supported": ["token"],
            "capabilities": [
                "client-confidential-asymmetric",
                "permission-v2",
                "permission-v1",
            ],
        }
    )


async def jwks(request: Request) -> Response:
    return _json(public_jwks(_security(request).key))


async def token(request: Request) -> Response:
    security = _security(request)
    try:
        form = await _form(request)
        return _json(_issue(security, request, form))
    except OAuthError as exc:
        answer = _json({"error": exc.error, "error_description": exc.description}, exc.status)
        if exc.status == 401:
            answer.headers["WWW-Authenticate"] = 'Bearer realm="fhir-server"'
        return answer


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The token request must be form-encoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "The token request is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request", "The token request is not UTF-8") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 section 3.2: parameters must not repeat
            raise OAuthError("invalid_request", f"Parameter {name} is given twice")
        form[name] = value
    return form


def _issue(security: Security, request: Request, form: dict[str, str]) -> dict[str, Any]:
    if form.get("grant_type") != CLIENT_CREDENTIALS:
        raise OAuthError("unsupported_grant_type", "Only client_credentials is supported")
    if form.get("client_assertion_type") != JWT_BEARER:
        raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}")
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise OAuthError("invalid_request", "client_assertion is missing")
    base = security.base(request)
    client = _authenticate_client(security, assertion, f"{base}/auth/token")
    requested = form.get("scope", "").split()
    if not requested:
        raise OAuthError("invalid_scope", "Name the scopes wanted in the scope parameter")
    granted = grantable(requested, list(client.scopes))
    if not granted:
        raise OAuthError("invalid_scope", "None of the requested scopes is allowed this client")
    lifetime = security.settings.access_token_lifetime
    access_token = mint(
        security.key,
        base,
        client.client_id,
        granted,
        client.organisation,
        lifetime,
        security.settings.auth_organisation_claim,
    )
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "scope": " ".join(granted),
    }


_KEY_SETS: dict[str, tuple[str, KeySet]] = {}


def _client_keys(client: Client) -> KeySet:
    """Importing a key set costs milliseconds: keep one per client until its keys change."""
    document = json.dumps(client.jwks, sort_keys=True)
    cached = _KEY_SETS.get(client.client_id)
    if cached is not None and cached[0] == document:
        return cached[1]
    key_set = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
    _KEY_SETS[client.client_id] = (document, key_set)
    return key_set


def _authenticate_client(security: Security, assertion: str, token_url: str) -> Client:
    """The registered client that signed this assertion, or invalid_client (401)."""
    try:
        header = unverified_header(assertion)
        claimed = unverified_claims(assertion)
    except TokenError as exc:
        raise OAuthError("invalid_client", str(exc), 401) from exc
    alg = header.get("alg")
    if alg not in ASSERTION_ALGORITHMS:
        raise OAuthError("invalid_client", f"Assertion algorithm {alg!r} is not accepted", 401)
    kid = header.get("kid")
    client_id = claimed.get("iss")
    if not isinstance(client_id, str) or not isinstance(kid, str):
        raise OAuthError("invalid_client", "The assertion needs iss and a kid header", 401)
    client = security.registry.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", f"No client {client_id!r} is registered", 401)
    try:
        key = _client_keys(client).get_by_kid(kid)
        claims = jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS).claims
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": client_id},
            sub={"essential": True, "value": client_id},
            aud={"essential": True, "value": token_url},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        problem = f"The client assertion is not valid: {exc}"
        raise OAuthError("invalid_client", problem, 401) from exc
    expires = int(claims["exp"])
    if expires > time.time() + MAX_ASSERTION_LIFETIME + LEEWAY_SECONDS:
        raise OAuthError("invalid_client", "The assertion's exp is more than 5 minutes ahead", 401)
    if not security.registry.use_jti(client_id, str(claims["jti"]), expires):
        raise OAuthError("invalid_client", "This client assertion (jti) was used before", 401)
    return client


def capability_security(base: str) -> dict[str, Any]:
    """CapabilityStatement.rest.security: SMART on FHIR, with the token endpoint in the
    oauth-uris extension (SMART App Launch, conformance)."""
    return {
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}],
            }
        ],
        "cors": False,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                        "display": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 bearer tokens, SMART on FHIR v2 scopes (Backend Services)",
            }
        ],
        "description": (
            "Every request but /metadata and /.well-known/smart-configuration needs a Bearer"
            " access token: from this server's /auth/token (client_credentials with a"
            " private_key_jwt client assertion) or from a configured identity provider."
            " Access is limited by SMART v2 scopes and by the caller's organisation; every"
            " access is recorded as an AuditEvent."
        ),
    }
