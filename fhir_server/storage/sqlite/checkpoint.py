"""Checkpoints of the write-ahead log, off the writer's path.

SQLite's automatic checkpoint runs inside a committing write and copies the log back into
the database file there, with an fsync: a group commit that happens to cross the threshold
stalls every write waiting behind it. The writer turns it off; this thread checkpoints from
its own connection instead (PASSIVE: it never blocks the writer or readers).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, conn: sqlite3.Connection, interval: float = 0.5) -> None:
        self._conn = conn
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # a reader still holds a snapshot: the next start finishes it
            log.warning("final checkpoint incomplete", exc_info=True)
        self._conn.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                log.warning("checkpoint failed; retrying", exc_info=True)
