"""Search index rows in the SQLite store: integer keys, and writing a resource's rows.

See migrations/0002_search_index.sql for the layout. Keys are assigned once, at start,
for every parameter the definitions know, and never change; a key is never assigned
inside a write job (a job's savepoint can roll back, a cache would not).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fhir_server.search.index import IndexEntries

# parameter types whose rows are shared between parameters through a bit set
MASKED = frozenset({"string", "token", "reference"})
_MAX_BIT = 62  # bit 63 would make the set a negative integer
TYPE_KIND = "type"

INDEX_TABLES = (
    "idx_string",
    "idx_token",
    "idx_reference",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_uri",
    "idx_composite",
)

# the words of _text and _content, an FTS5 table keyed by rowid = rid
FULL_TEXT_TABLE = "idx_fulltext"

# the columns of an idx_composite row after p, rid, g and n
COMPOSITE_COLUMNS = (
    "system",
    "code",
    "value",
    "exact",
    "target_type",
    "target_id",
    "url",
    "low",
    "high",
    "dlow",
    "dhigh",
)
_COMPOSITE_INSERT = (
    "INSERT INTO idx_composite (p, rid, g, n, "
    + ", ".join(COMPOSITE_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" * (4 + len(COMPOSITE_COLUMNS)))
    + ")"
)


def composite_columns(kind: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A component's row of its type (IndexEntries, without the param) as the values of
    COMPOSITE_COLUMNS; '' where the other tables keep '' for "none"."""
    if kind == "token":
        system, code, _text = row
        return (system or "", code or "", None, None, None, None, None, None, None, None, None)
    if kind == "string":
        value, exact = row
        return (None, None, value, exact, None, None, None, None, None, None, None)
    if kind == "reference":
        target_type, target_id, url = row
        return (
            None,
            None,
            None,
            None,
            target_type or "",
            target_id or "",
            url,
            None,
            None,
            None,
            None,
        )
    if kind == "uri":
        return (None, None, row[0], None, None, None, None, None, None, None, None)
    if kind == "number":
        low, high = row
        return (None, None, None, None, None, None, None, low, high, None, None)
    if kind == "quantity":
        low, high, system, unit = row
        return (system or "", unit or "", None, None, None, None, None, low, high, None, None)
    low, high = row  # date
    return (None, None, None, None, None, None, None, None, None, low, high)


@dataclass(frozen=True, slots=True)
class ParamKey:
    id: int
    kind: str
    bit: int  # 1 << position for string, token and reference parameters; 0 otherwise


class SearchKeys:
    """Integer keys of resource types and of (type, parameter) pairs."""

    def __init__(self, types: dict[str, int], params: dict[tuple[str, str], ParamKey]) -> None:
        self._types = types
        self._params = params

    def type_key(self, resource_type: str) -> int:
        return self._types[resource_type]

    def param(self, resource_type: str, code: str) -> ParamKey:
        return self._params[(resource_type, code)]

    @staticmethod
    def ensure(conn: sqlite3.Connection, wanted: Iterable[tuple[str, str, str]]) -> SearchKeys:
        """Keys for every (type, code, kind) wanted, adding the missing ones in one transaction.

        A parameter whose type changed (a new definition) gets a new key; its old rows are
        rebuilt anyway, since the definitions' digest changed too.
        """
        wanted_list = sorted(set(wanted))
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute("SELECT id, type, code, kind, bit FROM search_key").fetchall()
            known = {(t, c, k): (i, b) for i, t, c, k, b in rows}
            for rtype, code, kind, bit in missing_keys(known, wanted_list):
                cursor = conn.execute(
                    "INSERT INTO search_key (type, code, kind, bit) VALUES (?, ?, ?, ?)",
                    (rtype, code, kind, bit),
                )
                known[(rtype, code, kind)] = (cursor.lastrowid or 0, bit)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return SearchKeys.of(known, wanted_list)

    @staticmethod
    def of(
        known: dict[tuple[str, str, str], tuple[int, int | None]],
        wanted: Iterable[tuple[str, str, str]],
    ) -> SearchKeys:
        """The keys of the `wanted` parameters from the stored (type, code, kind) → (id, bit)."""
        types = {t: i for (t, _, k), (i, _) in known.items() if k == TYPE_KIND}
        wanted_kinds = {(t, c): k for t, c, k in wanted}
        params = {
            (t, c): ParamKey(i, k, 0 if b is None else 1 << b)
            for (t, c, k), (i, b) in known.items()
            if k != TYPE_KIND and wanted_kinds.get((t, c)) == k
        }
        return SearchKeys(types, params)


def missing_keys(
    known: dict[tuple[str, str, str], tuple[int, int | None]],
    wanted: list[tuple[str, str, str]],
) -> list[tuple[str, str, str, int | None]]:
    """The (type, code, kind, bit) rows to add to search_key, in order: a key per resource
    type (kind 'type', code ''), then one per wanted parameter not yet known; string, token
    and reference parameters get the next free bit of their type and kind."""
    used_bits: dict[tuple[str, str], int] = {}
    for (t, _, k), (_, b) in known.items():
        if b is not None:
            used_bits[(t, k)] = max(used_bits.get((t, k), -1), b)
    out: list[tuple[str, str, str, int | None]] = []
    for rtype in sorted({t for t, _, _ in wanted}):
        if (rtype, "", TYPE_KIND) not in known:
            out.append((rtype, "", TYPE_KIND, None))
    for rtype, code, kind in wanted:
        if (rtype, code, kind) in known:
            continue
        bit = None
        if kind in MASKED:
            bit = used_bits.get((rtype, kind), -1) + 1
            if bit > _MAX_BIT:
                raise RuntimeError(f"{rtype} has more than {_MAX_BIT + 1} {kind} search parameters")
            used_bits[(rtype, kind)] = bit
        out.append((rtype, code, kind, bit))
    return out


def definitions_digest(wanted: Iterable[tuple[str, str, str, str]]) -> str:
    """A digest of (type, code, kind, expression) of every indexed parameter."""
    digest = hashlib.sha256()
    for row in sorted(set(wanted)):
        digest.update("\x1f".join(row).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def insert_rows(
    conn: sqlite3.Connection, keys: SearchKeys, rid: int, rtype: str, entries: IndexEntries
) -> None:
    """Writes the index rows of one resource (its old rows must be gone)."""
    if entries.strings:
        strings: dict[tuple[str, str], int] = {}
        for code, value, exact in entries.strings:
            strings[(value, exact)] = strings.get((value, exact), 0) | keys.param(rtype, code).bit
        t = keys.type_key(rtype)
        conn.executemany(
            "INSERT INTO idx_string (t, value, rid, exact, params) VALUES (?, ?, ?, ?, ?)",
            [(t, value, rid, exact, bits) for (value, exact), bits in strings.items()],
        )
    if entries.tokens:
        tokens: dict[tuple[str, str, str], int] = {}
        for code, system, token, text in entries.tokens:
            key = (token or "", system or "", text or "")
            tokens[key] = tokens.get(key, 0) | keys.param(rtype, code).bit
        t = keys.type_key(rtype)
        conn.executemany(
            "INSERT INTO idx_token (t, code, system, rid, text, params) VALUES (?, ?, ?, ?, ?, ?)",
            [(t, token, system, rid, text, bits) for (token, system, text), bits in tokens.items()],
        )
    if entries.references:
        references: dict[tuple[str, str, str], int] = {}
        for code, target_type, target_id, url in entries.references:
            key = (target_id or "", target_type or "", url)
            references[key] = references.get(key, 0) | keys.param(rtype, code).bit
        t = keys.type_key(rtype)
        conn.executemany(
            "INSERT INTO idx_reference (t, target_id, target_type, rid, url, params)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(t, tid, ttype, rid, url, bits) for (tid, ttype, url), bits in references.items()],
        )
    if entries.dates:
        conn.executemany(
            "INSERT OR IGNORE INTO idx_date (p, low, high, rid) VALUES (?, ?, ?, ?)",
            [(keys.param(rtype, code).id, low, high, rid) for code, low, high in entries.dates],
        )
    if entries.numbers:
        conn.executemany(
            "INSERT OR IGNORE INTO idx_number (p, low, high, rid) VALUES (?, ?, ?, ?)",
            [(keys.param(rtype, code).id, low, high, rid) for code, low, high in entries.numbers],
        )
    if entries.quantities:
        conn.executemany(
            "INSERT OR IGNORE INTO idx_quantity (p, low, high, rid, system, code)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (keys.param(rtype, code).id, low, high, rid, system or "", unit or "")
                for code, low, high, system, unit in entries.quantities
            ],
        )
    if entries.uris:
        conn.executemany(
            "INSERT OR IGNORE INTO idx_uri (p, value, rid) VALUES (?, ?, ?)",
            [(keys.param(rtype, code).id, value, rid) for code, value in entries.uris],
        )

    if entries.composites:
        conn.executemany(
            _COMPOSITE_INSERT,
            [
                (keys.param(rtype, code).id, rid, group, position, *composite_columns(kind, row))
                for code, group, position, kind, row in entries.composites
            ],
        )

    if entries.words:
        conn.execute(
            "INSERT INTO idx_fulltext (rowid, words) VALUES (?, ?)", (rid, " ".join(entries.words))
        )


def delete_rows(conn: sqlite3.Connection, rid: int) -> None:
    for table in INDEX_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))
    conn.execute("DELETE FROM idx_fulltext WHERE rowid = ?", (rid,))
