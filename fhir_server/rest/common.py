"""What every route handler does first: the runtime, the caller, the format."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from fhir_server.auth.security import request_context
from fhir_server.interactions.incoming import check_type
from fhir_server.rest.negotiation import Negotiated, negotiate
from fhir_server.rest.responses import base_url
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext


@dataclass(slots=True)
class Call:
    runtime: Runtime
    context: RequestContext
    negotiated: Negotiated
    request: Request
    _base: str | None = None

    @property
    def base(self) -> str:
        """The server's base URL (built on first use: most reads never need it)."""
        if self._base is None:
            self._base = base_url(self.request, self.runtime.settings.base_url)
        return self._base


def begin(
    request: Request, resource_type: str | None = None, also: frozenset[str] = frozenset()
) -> Call:
    """`also`: media types the handler produces besides JSON (negotiation.negotiate)."""
    runtime: Runtime = request.app.state.runtime
    negotiated = negotiate(request, also)
    if resource_type is not None:
        check_type(runtime, resource_type)
    return Call(runtime, request_context(request), negotiated, request)
