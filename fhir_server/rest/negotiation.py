"""Media types: what the client sends (Content-Type) and wants back (Accept, _format)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from fhir_server import fhirjson
from fhir_server.outcome import FhirError, Issue, bad_request, error

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
CSV = "text/csv"  # offered only by handlers that say so (e.g. the LUS reports)
_JSON_TYPES = {FHIR_JSON, JSON, "json", "text/json"}
_XML_TYPES = {"application/fhir+xml", "application/xml", "text/xml", "xml"}


@dataclass(frozen=True, slots=True)
class Negotiated:
    media_type: str  # what the response is sent as
    pretty: bool


def _base_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _charset(value: str) -> str | None:
    for parameter in value.split(";")[1:]:
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "charset":
            return given.strip().strip('"').lower()
    return None


def negotiate(request: Request, also: frozenset[str] = frozenset()) -> Negotiated:
    """Pick the response format from _format (which wins) or Accept; XML is refused (406).
    `also`: media types this handler produces besides JSON (`CSV`; `_format=csv` too)."""
    pretty = False
    fmt = None
    if request.scope["query_string"]:
        query = request.query_params
        pretty = query.get("_pretty", "false").lower() == "true"
        fmt = query.get("_format")
    if fmt is not None:
        base = _base_type(fmt)
        if base in (FHIR_JSON, "json"):
            return Negotiated(FHIR_JSON, pretty)
        if base in (JSON, "text/json"):
            return Negotiated(JSON, pretty)
        if CSV in also and base in (CSV, "csv"):
            return Negotiated(CSV, pretty)
        if base in also:
            return Negotiated(base, pretty)
        raise _not_acceptable(f"_format={fmt} is not supported; this server speaks FHIR JSON")
    accept = request.headers.get("accept")
    if not accept:
        return Negotiated(FHIR_JSON, pretty)
    offered = [_base_type(part) for part in accept.split(",") if part.strip()]
    for media in offered:
        if media in (FHIR_JSON, "*/*", "application/*", "application/fhir+*"):
            return Negotiated(FHIR_JSON, pretty)
        if media in (JSON, "text/json", "text/*"):
            return Negotiated(JSON, pretty)
        if media in also:
            return Negotiated(media, pretty)
    raise _not_acceptable(f"None of the accepted media types ({accept}) can be produced")


def _not_acceptable(diagnostics: str) -> FhirError:
    return FhirError(
        406,
        [
            Issue(
                "error",
                "not-supported",
                diagnostics + ". Supported: application/fhir+json, application/json.",
            )
        ],
    )


def media_type(request: Request) -> str | None:
    """The request body's media type without parameters, lower case (None: not given)."""
    content_type = request.headers.get("content-type")
    return _base_type(content_type) if content_type is not None else None


def body_kind(request: Request, patch: bool = False) -> str:
    """The media type of the request body; 415 for anything but JSON flavours (JSON Patch
    only for a `patch`) and for a charset other than UTF-8 (JSON is UTF-8, RFC 8259)."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return FHIR_JSON
    base = _base_type(content_type)
    charset = _charset(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise error(
            415, "not-supported", f"Charset {charset} is not supported: send UTF-8 (or no charset)"
        )
    if base in _JSON_TYPES:
        return FHIR_JSON
    if base == JSON_PATCH and patch:
        return JSON_PATCH
    kind = "XML" if base in _XML_TYPES else content_type
    raise error(
        415,
        "not-supported",
        f"Content-Type {kind} is not supported: send application/fhir+json or application/json",
    )


async def read_json_body(request: Request, max_bytes: int, patch: bool = False) -> tuple[str, Any]:
    """The parsed JSON body and its media type; 413 above the limit, 400 when unparseable.
    `patch`: a JSON Patch document is accepted too."""
    kind = body_kind(request, patch)
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        raise bad_request("The request has no body")
    if b"\\u00" in raw and (control := _CONTROL.search(raw)) is not None:
        raise bad_request(
            f"The body holds the control character {control.group(1).decode()}: FHIR strings"
            " cannot (only tab, carriage return and line feed; datatypes.html#string)"
        )
    try:
        return kind, fhirjson.loads(raw)
    except ValueError as exc:
        raise bad_request(f"The body is not valid JSON: {exc}") from exc


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body as sent; 413 above the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


# a JSON escape of a control character other than tab, line feed, carriage return (not
# preceded by an escaping backslash)
_CONTROL = re.compile(rb"(?<!\\)(?:\\\\)*(\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]))")


def _too_large(max_bytes: int) -> FhirError:
    return error(413, "too-costly", f"The request body exceeds the limit of {max_bytes} bytes")
