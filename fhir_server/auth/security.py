"""The security of one running server: its signing key, its clients, its token verifier,
and the admission of each request (who is calling, may they do this kind of thing).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request

from fhir_server.auth.access import check_interaction, unauthorized
from fhir_server.auth.keys import load_or_create
from fhir_server.auth.registry import ClientRegistry
from fhir_server.auth.tokens import Principal, TokenError, Verifier
from fhir_server.config import Settings
from fhir_server.rest.responses import base_url
from fhir_server.storage.port import RequestContext

log = logging.getLogger(__name__)

PRINCIPAL_KEY = "fhir.principal"  # where the admitted caller waits in the ASGI scope
INTERACTION_KEY = "fhir.interaction"
# Interactions anyone may use without a token: the server's self-description.
PUBLIC = frozenset({"capabilities", "smart-configuration", "jwks", "token"})


class Security:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = load_or_create(settings.signing_key_path)
        self.registry = ClientRegistry(settings.auth_path)
        self.verifier = Verifier(
            self.key,
            settings.auth_issuers,
            settings.auth_audience,
            settings.auth_organisation_claim,
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.verifier.load_external_keys)

    def close(self) -> None:
        self.registry.close()

    def base(self, request: Request) -> str:
        return base_url(request, self.settings.base_url)

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header is None:
            raise unauthorized("this server needs a Bearer access token", token_given=False)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("the Authorization header must be 'Bearer <token>'")
        try:
            return self.verifier.verify(token.strip(), self.base(request))
        except TokenError as exc:
            raise unauthorized(str(exc)) from exc

    def admit(self, request: Request, interaction: str, params: dict[str, Any]) -> None:
        """Authenticate the caller and check the scopes the interaction needs; the caller
        is kept in the request's scope, where `context_for` finds it."""
        request.scope[INTERACTION_KEY] = interaction
        if interaction in PUBLIC:
            return
        principal = self.authenticate(request)
        request.scope[PRINCIPAL_KEY] = principal
        if interaction == "create" and request.headers.get("if-none-exist"):
            interaction = "conditional-create"
        check_interaction(context_of(principal), interaction, params.get("resource_type"))


def context_of(principal: Principal, **fields: Any) -> RequestContext:
    """The RequestContext of an authenticated caller."""
    return RequestContext(
        principal=principal.subject,
        organisation=principal.organisation,
        scopes=principal.scopes,
        enforced=True,
        patient=principal.patient,
        fhir_user=principal.fhir_user,
        **fields,
    )


def request_context(request: Request) -> RequestContext:
    """Who is calling (as admitted by `Security.admit`; nobody when security is off), from
    where, and for what: the context every storage call of the request receives."""
    scope = request.scope
    client = scope.get("client")
    # the path and query as the request had them (not request.url: it parses the Host
    # header and builds a whole URL, a tenth of a plain read's time)
    query = scope["query_string"]
    target = scope["path"]
    fields: dict[str, Any] = {
        "client_ip": client[0] if client else None,
        "interaction": scope.get(INTERACTION_KEY, ""),
        "target": target + "?" + query.decode("latin-1") if query else target,
    }
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        return RequestContext(**fields)
    return context_of(principal, **fields)
