"""Checkpoints of the write-ahead log, off the writer's path.

SQLite's automatic checkpoint runs inside a committing write and copies the log back into
the database file there, with an fsync: a group commit that happens to cross the threshold
stalls every write waiting behind it. The writer turns it off; this thread checkpoints from
its own connection instead (PASSIVE: it never blocks the writer or readers).

Under a steady stream of writes such a checkpoint never catches up with the end of the log,
so the log would never start over and would grow without bound. When it has grown past a
limit, the writer is asked to run one more checkpoint itself between two commits (then no
frame can be added meanwhile); as this thread has already copied nearly everything, that one
is cheap, and the next write starts the log from the beginning.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

RESTART_FRAMES = 4096  # ~16 MB of log with 4 KB pages


class Checkpointer:
    def __init__(self, conn: sqlite3.Connection, interval: float = 0.5) -> None:
        self._conn = conn
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self.writer_should_checkpoint = threading.Event()

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
                _, frames, _ = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                log.warning("checkpoint failed; retrying", exc_info=True)
                continue
            if frames >= RESTART_FRAMES:
                self.writer_should_checkpoint.set()

    def after_commit(self, writer_conn: sqlite3.Connection) -> None:
        """Called by the writer between commits."""
        if self.writer_should_checkpoint.is_set():
            self.writer_should_checkpoint.clear()
            try:
                writer_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                log.warning("writer checkpoint failed", exc_info=True)
