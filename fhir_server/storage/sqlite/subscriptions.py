"""Subscription delivery state in SQLite (tables of migrations/0002_subscriptions.sql).

Functions of a connection: the adapter runs the writing ones as writer jobs (serialised
with every change, in the group commit) and the reading ones on its reader threads.
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
    numbers: dict[str, int | None] = {}
    stored: list[SubscriptionEvent] = []
    for event in events:
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
    conn.execute(
        "INSERT INTO subscription_cursor (name, seq) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
        (_MATCHER, through),
    )
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
