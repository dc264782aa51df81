"""The storage port (one async interface) and its adapters."""

from fhir_server.storage.port import (
    HistoryPage,
    RequestContext,
    Storage,
    StoredVersion,
    Transaction,
)

__all__ = ["HistoryPage", "RequestContext", "Storage", "StoredVersion", "Transaction"]
