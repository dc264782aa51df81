"""The embedded SQLite store (stdlib sqlite3, WAL, one writer thread with group commit)."""

from fhir_server.storage.sqlite.adapter import SqliteStorage

__all__ = ["SqliteStorage"]
