"""Registered clients and used client-assertion ids (jti), in `auth.sqlite3` in the data dir.

The `fhir-server client` commands write here and a running server reads here, so a client
added while the server runs can ask for a token at once. Used `jti` values are kept until
their assertion expires: a restart does not reopen a replay window.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS client (
  client_id    TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  organisation TEXT NOT NULL,   -- HSA-id or kommunkod
  jwks         TEXT NOT NULL,   -- the client's public keys (a JWKS document)
  scopes       TEXT NOT NULL,   -- the scopes it may be given, space-separated
  created      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS used_jti (
  client_id TEXT NOT NULL,
  jti       TEXT NOT NULL,
  expires   INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
);
"""


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    organisation: str
    jwks: dict[str, Any]
    scopes: tuple[str, ...]


class ClientRegistry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def add(self, client: Client) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO client (client_id, name, organisation, jwks, scopes, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    client.client_id,
                    client.name,
                    client.organisation,
                    json.dumps(client.jwks),
                    " ".join(client.scopes),
                    int(time.time()),
                ),
            )

    def remove(self, client_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM client WHERE client_id = ?", (client_id,))
            return cursor.rowcount > 0

    def get(self, client_id: str) -> Client | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT client_id, name, organisation, jwks, scopes FROM client"
                " WHERE client_id = ?",
                (client_id,),
            ).fetchone()
        return None if row is None else _client(row)

    def all(self) -> list[Client]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT client_id, name, organisation, jwks, scopes FROM client ORDER BY client_id"
            ).fetchall()
        return [_client(row) for row in rows]

    def use_jti(self, client_id: str, jti: str, expires: int) -> bool:
        """Record an assertion id; False when this client used it before (a replay)."""
        now = int(time.time())
        with self._lock:
            self._conn.execute("DELETE FROM used_jti WHERE expires < ?", (now - 3600,))
            try:
                self._conn.execute(
                    "INSERT INTO used_jti (client_id, jti, expires) VALUES (?, ?, ?)",
                    (client_id, jti, expires),
                )
            except sqlite3.IntegrityError:
                return False
        return True


def _client(row: tuple[Any, ...]) -> Client:
    client_id, name, organisation, jwks, scopes = row
    return Client(client_id, name, organisation, json.loads(jwks), tuple(scopes.split()))
