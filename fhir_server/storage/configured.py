"""The store the settings name: PostgreSQL for a postgresql:// database URL, else SQLite."""

from __future__ import annotations

from fhir_server.config import Settings
from fhir_server.definitions import Definitions
from fhir_server.storage.port import Storage
from fhir_server.validation.profile import load_profile_validator

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def uses_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith(POSTGRES_SCHEMES)


def subscription_worker_wanted(settings: Settings) -> bool:
    """Whether rest-hook notifications are sent by the subscription worker process (the
    SQLite store; on PostgreSQL every server process delivers its share)."""
    return settings.subscription_process and not uses_postgres(settings)


def storage_for(
    settings: Settings, definitions: Definitions, *, secondary: bool = False
) -> Storage:
    """`secondary`: for a second process on a SQLite store the server owns (no schema
    changes, no index rebuild, no checkpoints)."""
    base_url = settings.base_url or None
    # token :in/:not-in/:above/:below search the ValueSets and CodeSystems the validator
    # knows (one registry per process and folders: the app's validator is this one)
    terminology = load_profile_validator(definitions, tuple(settings.conformance_dirs)).terminology
    if settings.database_url and not uses_postgres(settings):
        raise ValueError(
            f"FHIR_SERVER_DATABASE_URL must start with postgresql:// (or be empty for the"
            f" embedded SQLite store), not {settings.database_url.split(':', 1)[0]}:"
        )
    if uses_postgres(settings):
        from fhir_server.storage.postgres import PostgresStorage

        return PostgresStorage(
            settings.database_url,
            definitions,
            pool_max=settings.database_pool_size,
            pool_min=min(2, settings.database_pool_size),
            base_url=base_url,
            terminology=terminology,
            search_timeout=settings.search_timeout_seconds,
        )
    from fhir_server.storage.sqlite import SqliteStorage

    return SqliteStorage(
        settings.sqlite_path,
        definitions,
        synchronous=settings.sqlite_synchronous,
        group_commit_max=settings.sqlite_group_commit_max,
        base_url=base_url,
        terminology=terminology,
        secondary=secondary,
        search_timeout=settings.search_timeout_seconds,
    )


def describe(settings: Settings) -> str:
    """Where the data is, for the log (no password)."""
    if uses_postgres(settings):
        scheme, _, rest = settings.database_url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
    return str(settings.sqlite_path)
