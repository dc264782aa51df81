"""Database trouble as the client sees it: 503 with Retry-After, never a half-done change.

A lost connection, a restarting or overloaded server: the request's transaction (if any)
was rolled back by PostgreSQL, so the client may simply retry. One exception: when the
connection drops during COMMIT the outcome is unknown to us too; the 503 says so.
"""

from __future__ import annotations

import asyncpg

from fhir_server.outcome import FhirError, Issue

# errors that say "the database is not reachable or not taking work now", not "this
# request is wrong": classes 08 (connection), 57 (operator intervention: shutdown,
# restart, statement timeout) and 53 (insufficient resources, too many connections)
TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)

# a job that lost a deadlock or a serialization check did nothing; it may run again
RETRYABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


def unavailable(exc: BaseException) -> FhirError:
    return FhirError(
        503,
        [
            Issue(
                "error",
                "transient",
                f"the database is not available ({type(exc).__name__}); nothing was changed"
                " unless the connection broke while committing: retry",
            )
        ],
        {"Retry-After": "1"},
    )
