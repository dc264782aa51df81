"""Every error leaves as an OperationOutcome with the status the specification names."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.outcome import FhirError, Issue, error
from fhir_server.rest.responses import error_response

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
}


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        diagnostics = f"No FHIR interaction at {request.method} {request.url.path}"
    elif exc.status_code == 405:
        diagnostics = f"{request.method} is not allowed on {request.url.path}"
    else:
        diagnostics = str(exc.detail)
    failure = error(exc.status_code, _HTTP_CODES.get(exc.status_code, "exception"), diagnostics)
    failure.headers.update(exc.headers or {})
    return error_response(failure)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return error_response(error(400, "invalid", f"Malformed request: {exc}"))


def _internal_error() -> FhirError:
    return FhirError(
        500,
        [Issue("fatal", "exception", "Internal server error; it has been logged")],
    )


class UnexpectedErrors:
    """Turns an exception no handler took into a 500 OperationOutcome, and logs it.

    Starlette's own last-resort handler answers and then re-raises, which makes the server
    drop the connection; this middleware answers and keeps the connection usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(_internal_error())(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(UnexpectedErrors)
