"""Query parameters shared by history and search: _count, instants, page links."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request

from fhir_server.config import Settings
from fhir_server.outcome import bad_request
from fhir_server.storage.clock import format_instant, parse_instant


def page_size(raw: str | None, settings: Settings) -> int:
    """The page size a _count value asks for, within the configured maximum."""
    if raw is None:
        return settings.default_page_size
    if not raw.isdigit():
        raise bad_request(f"_count={raw} is not a non-negative integer", "_count")
    return min(int(raw), settings.max_page_size)


def instant_param(request: Request, name: str) -> str | None:
    """A date/instant query parameter as our fixed-width UTC text; partial dates start at
    their first instant."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        if len(raw) == 4 and raw.isdigit():
            moment = datetime(int(raw), 1, 1, tzinfo=UTC)
        elif len(raw) == 7:
            moment = datetime(int(raw[:4]), int(raw[5:7]), 1, tzinfo=UTC)
        else:
            moment = parse_instant(raw)
    except ValueError as exc:
        raise bad_request(f"{name}={raw} is not a valid instant", name) from exc
    return format_instant(moment)


def link(base_path: str, params: list[tuple[str, str]]) -> str:
    return f"{base_path}?{urlencode(params)}" if params else base_path


def kept_params(request: Request, drop: tuple[str, ...] = ("_cursor",)) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
