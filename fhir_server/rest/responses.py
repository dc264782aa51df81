"""Building FHIR responses: bodies as bytes, ETag / Last-Modified / Location headers."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fhir_server import fhirjson
from fhir_server.ids import version_etag
from fhir_server.outcome import FhirError
from fhir_server.rest.negotiation import FHIR_JSON, Negotiated
from fhir_server.storage.clock import parse_instant
from fhir_server.storage.port import StoredVersion


def base_url(request: Request, configured: str) -> str:
    if configured:
        return configured.rstrip("/")
    # starlette builds a whole URL (a copy of the scope, the Host header parsed) for each
    # request: kept here per what it is built from, as every create's Location needs it
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    root = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")
    key = (scope.get("scheme", "http"), host, tuple(server) if server else None, root)
    found = _BASES.get(key)
    if found is None:
        found = str(request.base_url).rstrip("/")
        if len(_BASES) >= _MOST_BASES:  # Host is the client's to choose
            _BASES.clear()
        _BASES[key] = found
    return found


_BASES: dict[tuple[Any, ...], str] = {}
_MOST_BASES = 1000


def dumps(value: Any, pretty: bool) -> bytes:
    return fhirjson.dumps(value, pretty)


def media_header(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def json_response(
    value: Any,
    negotiated: Negotiated,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        dumps(value, negotiated.pretty),
        status_code=status,
        headers=headers,
        media_type=media_header(negotiated.media_type),
    )


def raw_response(
    body: bytes, negotiated: Negotiated, status: int, headers: dict[str, str]
) -> Response:
    if negotiated.pretty:
        body = fhirjson.dumps(fhirjson.loads(body), pretty=True)
    return Response(
        body, status_code=status, headers=headers, media_type=media_header(negotiated.media_type)
    )


def etag(version: StoredVersion) -> str:
    return version_etag(version.version_id)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(instant: str) -> str:
    """An RFC 9110 HTTP-date (IMF-fixdate), independent of the locale."""
    if len(instant) == 27 and instant[10] == "T" and instant[26] == "Z":
        # the stored form (clock.format_instant: UTC, fixed width): cut, not parsed, as
        # every read's Last-Modified is one
        month = int(instant[5:7])
        day = date(int(instant[:4]), month, int(instant[8:10]))
        return (
            f"{_DAYS[day.weekday()]}, {instant[8:10]} {_MONTHS[month - 1]} {instant[:4]}"
            f" {instant[11:19]} GMT"
        )
    moment = parse_instant(instant).astimezone(UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]}"
        f" {moment.year} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def version_headers(version: StoredVersion, base: str | None = None) -> dict[str, str]:
    """ETag and Last-Modified; with a base URL also Location (for a created resource)."""
    headers = {"ETag": etag(version), "Last-Modified": http_date(version.last_updated)}
    if base is not None:
        headers["Location"] = (
            f"{base}/{version.resource_type}/{version.id}/_history/{version.version_id}"
        )
    return headers


def error_response(exc: FhirError, negotiated: Negotiated | None = None) -> Response:
    negotiated = negotiated or Negotiated(FHIR_JSON, False)
    return json_response(exc.outcome(), negotiated, exc.status, exc.headers or None)
