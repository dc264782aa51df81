"""Opening connections and applying the schema."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fhir_server.outcome import error
from fhir_server.storage.limits import too_slow

_MIGRATIONS = Path(__file__).with_name("migrations")


def migrations() -> list[tuple[int, Path]]:
    """The schema's migrations in order: `NNNN_name.sql` brings the schema to version NNNN."""
    found = sorted((int(path.name[:4]), path) for path in _MIGRATIONS.glob("[0-9]*.sql"))
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"schema migrations are not numbered 1..n: {numbers}")
    return found


SCHEMA_VERSION = len(migrations())

# SQLite's limits a search may exceed (many values, deep chains, long patterns): the
# request's fault, answered 400 rather than 500.
_TOO_COMPLEX = (
    "Expression tree is too large",
    "LIKE or GLOB pattern too complex",
    "too many SQL variables",
    "parser stack overflow",
    "too many terms in compound SELECT",
    "at most 64 tables in a join",
)


@contextmanager
def search_limits() -> Iterator[None]:
    """A query beyond SQLite's limits becomes a 400 OperationOutcome naming the reason."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        reason = str(exc)
        if not any(reason.startswith(limit) for limit in _TOO_COMPLEX):
            raise
        raise error(400, "too-costly", f"The search is too complex to run ({reason})") from None


# virtual machine steps between two looks at the clock: some milliseconds of a query's
# work. Each look is a Python call, which takes the interpreter lock from the event loop:
# rare enough not to slow a search down under load, often enough for a limit of seconds.
_STEPS_PER_LOOK = 1_000_000


@contextmanager
def time_limit(conn: sqlite3.Connection, seconds: float | None) -> Iterator[None]:
    """The queries run on `conn` meanwhile are stopped after `seconds` in all: a 400
    OperationOutcome (too-costly) says so. None: no limit (the server's own work)."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: time.monotonic() > deadline, _STEPS_PER_LOOK)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if str(exc) != "interrupted" or time.monotonic() <= deadline:
            raise
        raise too_slow(seconds) from None
    finally:
        conn.set_progress_handler(None, 0)
    if time.monotonic() > deadline:  # short queries, each under a look at the clock
        raise too_slow(seconds)


BUSY_TIMEOUT_SECONDS = 30  # how long a statement waits for another process's lock


def open_connection(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    # isolation_level=None: transactions are begun and ended explicitly by the writer.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


def apply_schema(conn: sqlite3.Connection) -> None:
    """Brings the database to SCHEMA_VERSION, one migration per transaction.

    Each migration runs in a BEGIN IMMEDIATE transaction that first re-reads the version: a
    second process starting at the same moment waits for the first, then finds the
    migration applied and skips it.
    """
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this server ({SCHEMA_VERSION})"
        )
    for number, path in migrations():
        if number <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            (now,) = conn.execute("PRAGMA user_version").fetchone()
            if now < number:
                for statement in _statements(path.read_text()):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = number


def _statements(script: str) -> list[str]:
    """A migration script as statements (executescript would commit on its own)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise RuntimeError(f"incomplete statement at the end of a migration: {pending!r}")
    return statements
