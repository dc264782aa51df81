"""What one search may cost the store: stopped past the configured time
(Settings.search_timeout_seconds), so that no single query holds a reader or a
connection for long. Each store stops its own queries (SQLite: a progress handler on the
reader's connection; PostgreSQL: a timeout on each query, cancelled on the server).

The limit is for what clients ask: searches, includes and history pages made for a
request (their context names the request's target). The server's own searches (loading
subscriptions and topics at start, say) are not stopped: none of them is open-ended.
"""

from __future__ import annotations

from fhir_server.outcome import FhirError, error
from fhir_server.storage.port import RequestContext


def search_time(ctx: RequestContext | None, seconds: float) -> float | None:
    """The seconds a search made in `ctx` may take; None: no limit (the server's own)."""
    return seconds if ctx is not None and ctx.target else None


def too_slow(seconds: float) -> FhirError:
    return error(
        400,
        "too-costly",
        f"The search took longer than the server allows ({seconds:g} s) and was stopped;"
        " narrow it (more criteria, a smaller _count, fewer _include or _has)",
    )
