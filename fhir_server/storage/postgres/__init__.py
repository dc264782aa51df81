"""The PostgreSQL adapter of the storage port: production, several server processes."""

from fhir_server.storage.postgres.adapter import PostgresStorage

__all__ = ["PostgresStorage"]
