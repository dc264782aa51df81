"""What every route handler does first: the runtime, the caller, the format."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from fhir_server.interactions.incoming import check_type
from fhir_server.rest.negotiation import Negotiated, negotiate
from fhir_server.rest.responses import base_url
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext


@dataclass(frozen=True, slots=True)
class Call:
    runtime: Runtime
    context: RequestContext
    negotiated: Negotiated
    base: str


def begin(request: Request, resource_type: str | None = None) -> Call:
    runtime: Runtime = request.app.state.runtime
    negotiated = negotiate(request)
    if resource_type is not None:
        check_type(runtime, resource_type)
    client = request.client
    context = RequestContext(client_ip=client.host if client else None)
    return Call(runtime, context, negotiated, base_url(request, runtime.settings.base_url))
