"""Opening connections and applying the schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1
_SCHEMA = Path(__file__).with_name("schema.sql")


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


def apply_schema(conn: sqlite3.Connection) -> None:
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {current} is newer than this server ({SCHEMA_VERSION})"
        )
    if current == SCHEMA_VERSION:
        return
    # One script, one transaction: a second process starting at the same moment waits for
    # the first, then finds every statement already applied (IF NOT EXISTS).
    conn.executescript(
        f"BEGIN IMMEDIATE;\n{_SCHEMA.read_text()}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;"
    )
