"""The SQLite writer's BEGIN IMMEDIATE: it waits for another connection's write lock in
short steps, then holds the lock; it gives up on anything but a busy lock at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from fhir_server.storage.sqlite.connection import BUSY_TIMEOUT_SECONDS, open_connection
from fhir_server.storage.sqlite.writer import begin_immediate


def _setup(tmp_path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    first = open_connection(tmp_path / "t.db")
    first.execute("CREATE TABLE t (n INTEGER)")
    return first, open_connection(tmp_path / "t.db")


def test_waits_for_another_connections_write_then_holds_the_lock(tmp_path: Path) -> None:
    other, conn = _setup(tmp_path)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    releasing = threading.Timer(0.05, lambda: other.execute("COMMIT"))
    releasing.start()
    begin_immediate(conn)  # the other still holds the lock: waits for its commit
    releasing.join()
    assert conn.in_transaction
    conn.execute("INSERT INTO t VALUES (2)")
    conn.execute("COMMIT")
    assert [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    # the connection's own busy timeout is back for the other statements
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    assert timeout == BUSY_TIMEOUT_SECONDS * 1000


def test_other_errors_are_raised_at_once(tmp_path: Path) -> None:
    _, conn = _setup(tmp_path)
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        begin_immediate(conn)
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    assert timeout == BUSY_TIMEOUT_SECONDS * 1000
