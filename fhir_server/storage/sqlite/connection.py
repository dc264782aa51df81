"""Opening connections and applying the schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Version 1 is schema.sql; each later version is one script in migrations/, applied in
# order to a store that has an older version (PRAGMA user_version).
_SCHEMA = Path(__file__).with_name("schema.sql")
_MIGRATIONS: dict[int, Path] = {
    2: Path(__file__).with_name("migrations") / "0002_subscriptions.sql",
}
SCHEMA_VERSION = max(_MIGRATIONS)


def open_connection(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    # isolation_level=None: transactions are begun and ended explicitly by the writer.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


def _version(conn: sqlite3.Connection) -> int:
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    return int(current)


def apply_schema(conn: sqlite3.Connection) -> None:
    current = _version(conn)
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this server ({SCHEMA_VERSION})"
        )
    if current == 0:
        _step(conn, 1, _SCHEMA)
    for version in sorted(_MIGRATIONS):
        _step(conn, version, _MIGRATIONS[version])


def _step(conn: sqlite3.Connection, version: int, script: Path) -> None:
    """Bring the store to `version` with one script in one transaction, once.

    A second process starting at the same moment waits for the first's transaction, then
    finds the version already set and does nothing (the scripts are idempotent too:
    IF NOT EXISTS)."""
    if _version(conn) >= version:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _version(conn) < version:
            # executescript would commit the open transaction first: run statement by
            # statement inside it instead
            for statement in _statements(script.read_text()):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            text = pending.strip()
            if text and not all(
                part.strip().startswith("--") or not part.strip() for part in text.splitlines()
            ):
                statements.append(text)
            pending = ""
    return statements
