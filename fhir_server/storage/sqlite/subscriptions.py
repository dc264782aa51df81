"""Subscription delivery state in SQLite (tables of migrations/0003_subscriptions.sql and
0007_subscription_lease.sql).

Functions of a connection: the adapter runs the writing ones as writer jobs (serialised
with every change, in the group commit) and the reading ones on its reader threads. Two
processes share the file (the server and its delivery worker): each one's writes run in a
BEGIN IMMEDIATE transaction, which SQLite serialises across processes, so `record` reads
the shared cursor under the write lock and drops the events at or below it (numbered by
the other process's matcher), as PostgreSQL's `record` does under its advisory lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fhir_server.storage.port import (
    MatchedEvent,
    RequestContext,
    StateChange,
    SubscriptionEvent,
    SubscriptionState,
)

_MATCHER = "matcher"
_STATE_COLUMNS = "id, status, start_seq, events, delivered, error, principal, organisation, changed"
_EVENT_COLUMNS = "subscription, number, seq, type, id, version, method, at"


def _state(row: Any) -> SubscriptionState:
    return SubscriptionState(*row)


def _event(row: Any) -> SubscriptionEvent:
    return SubscriptionEvent(*row)


def cursor(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM subscription_cursor WHERE name = ?", (_MATCHER,)).fetchone()
    return 0 if row is None else int(row[0])


def record(
    conn: sqlite3.Connection, through: int, events: Sequence[MatchedEvent]
) -> list[SubscriptionEvent]:
    # what another process's matcher recorded meanwhile is not numbered twice
    done = cursor(conn)
    numbers: dict[str, int | None] = {}
    stored: list[SubscriptionEvent] = []
    for event in events:
        if event.seq <= done:
            continue
        sid = event.subscription
        if sid not in numbers:
            row = conn.execute("SELECT events FROM subscription_state WHERE id = ?", (sid,))
            found = row.fetchone()
            numbers[sid] = None if found is None else int(found[0])
        last = numbers[sid]
        if last is None:
            continue  # the subscription is gone
        number = last + 1
        numbers[sid] = number
        row_values = (
            sid,
            number,
            event.seq,
            event.resource_type,
            event.id,
            event.version,
            event.method,
            event.at,
        )
        conn.execute(
            f"INSERT INTO subscription_event ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row_values,
        )
        stored.append(SubscriptionEvent(*row_values))
    conn.executemany(
        "UPDATE subscription_state SET events = ? WHERE id = ?",
        [(number, sid) for sid, number in numbers.items() if number is not None],
    )
    _move_cursor(conn, through)
    return stored


def open_state(
    conn: sqlite3.Connection,
    sid: str,
    start_seq: int,
    status: str,
    owner: RequestContext,
    now: str,
) -> SubscriptionState:
    conn.execute(
        f"INSERT INTO subscription_state ({_STATE_COLUMNS}) VALUES (?, ?, ?, 0, 0, NULL, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
        " changed = CASE WHEN status = excluded.status THEN changed ELSE excluded.changed END,"
        " error = CASE WHEN status = excluded.status THEN error ELSE NULL END",
        (sid, status, start_seq, owner.principal, owner.organisation, now),
    )
    found = state(conn, sid)
    assert found is not None
    return found


def apply(
    conn: sqlite3.Connection, sid: str, seq: int, status: str, owner: RequestContext, now: str
) -> SubscriptionState | None:
    if cursor(conn) >= seq:
        return state(conn, sid)  # the other process's matcher applied it
    opened = open_state(conn, sid, seq, status, owner, now)
    _move_cursor(conn, seq)
    return opened


def _move_cursor(conn: sqlite3.Connection, through: int) -> None:
    conn.execute(
        "INSERT INTO subscription_cursor (name, seq) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
        (_MATCHER, through),
    )


def close(conn: sqlite3.Connection, sid: str) -> None:
    conn.execute("DELETE FROM subscription_event WHERE subscription = ?", (sid,))
    conn.execute("DELETE FROM subscription_state WHERE id = ?", (sid,))


def change(conn: sqlite3.Connection, changes: Sequence[StateChange], now: str) -> None:
    for item in changes:
        if item.status is not None:
            conn.execute(
                "UPDATE subscription_state SET status = ?, error = ?,"
                " changed = CASE WHEN status = ? THEN changed ELSE ? END WHERE id = ?",
                (item.status, item.error, item.status, now, item.id),
            )
        if item.delivered is not None:
            conn.execute(
                "UPDATE subscription_state SET delivered = max(delivered, ?) WHERE id = ?",
                (item.delivered, item.id),
            )


def states(conn: sqlite3.Connection) -> list[SubscriptionState]:
    rows = conn.execute(f"SELECT {_STATE_COLUMNS} FROM subscription_state ORDER BY id")
    return [_state(row) for row in rows.fetchall()]


def state(conn: sqlite3.Connection, sid: str) -> SubscriptionState | None:
    row = conn.execute(
        f"SELECT {_STATE_COLUMNS} FROM subscription_state WHERE id = ?", (sid,)
    ).fetchone()
    return None if row is None else _state(row)


def events(
    conn: sqlite3.Connection, sid: str, first: int, last: int | None, limit: int
) -> list[SubscriptionEvent]:
    upper = last if last is not None else 2**62
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM subscription_event"
        " WHERE subscription = ? AND number >= ? AND number <= ? ORDER BY number LIMIT ?",
        (sid, first, upper, limit),
    )
    return [_event(row) for row in rows.fetchall()]


def leases(
    conn: sqlite3.Connection, owner: str, sids: Sequence[str], seconds: float, now: float
) -> set[str]:
    """Claim or renew the leases of `sids` for `owner` until `now + seconds`; the ids it
    holds. Runs under the write lock, so two processes never both take a free lease."""
    conn.executemany(
        "INSERT INTO subscription_lease (id, owner, until) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        [(sid, owner, now - 1.0) for sid in sids],
    )
    held: set[str] = set()
    for start in range(0, len(sids), 500):
        chunk = list(sids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"UPDATE subscription_lease SET owner = ?, until = ? WHERE id IN ({marks})"
            " AND (owner = ? OR until < ?) RETURNING id",
            (owner, now + seconds, *chunk, owner, now),
        ).fetchall()
        held.update(str(row[0]) for row in rows)
    return held


def release(conn: sqlite3.Connection, owner: str) -> None:
    conn.execute("DELETE FROM subscription_lease WHERE owner = ?", (owner,))
