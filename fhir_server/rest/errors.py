"""Every error leaves as an OperationOutcome with the status the specification names."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.outcome import FhirError, Issue
from fhir_server.rest.responses import error_response

log = logging.getLogger(__name__)


def internal_error() -> FhirError:
    return FhirError(
        500,
        [Issue("fatal", "exception", "Internal server error; it has been logged")],
    )


def answer_exception(request: Request, exc: Exception) -> Response:
    """The response for an exception a handler raised: its OperationOutcome, or a logged
    500 for anything unexpected (no internals in the answer)."""
    if isinstance(exc, FhirError):
        return error_response(exc)
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return error_response(internal_error())
