"""Subscription delivery state in PostgreSQL (tables of migrations/0002_subscriptions.sql).

The statements of sqlite/subscriptions.py on an asyncpg connection. The writing ones run
in a transaction: `record` holds the matcher's advisory lock until commit, so matchers in
several server processes number each subscription's events one after the other and an
event at or below the cursor (recorded by another process) is dropped, not numbered
again.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from fhir_server.storage.port import (
    MatchedEvent,
    RequestContext,
    StateChange,
    SubscriptionEvent,
    SubscriptionState,
)
from fhir_server.storage.postgres.locks import lock_key

_MATCHER = "matcher"
MATCHER_LOCK = lock_key("subscriptions", _MATCHER)
_STATE_COLUMNS = "id, status, start_seq, events, delivered, error, principal, organisation, changed"
_EVENT_COLUMNS = "subscription, number, seq, type, id, version, method, at"


async def cursor(conn: asyncpg.Connection) -> int:
    seq = await conn.fetchval("SELECT seq FROM subscription_cursor WHERE name = $1", _MATCHER)
    return 0 if seq is None else int(seq)


async def record(
    conn: asyncpg.Connection, through: int, events: Sequence[MatchedEvent]
) -> list[SubscriptionEvent]:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCHER_LOCK)
    # what another process's matcher recorded meanwhile is not numbered twice
    done = await cursor(conn)
    numbers: dict[str, int | None] = {}
    stored: list[SubscriptionEvent] = []
    for event in events:
        if event.seq <= done:
            continue
        sid = event.subscription
        if sid not in numbers:
            found = await conn.fetchval(
                "SELECT events FROM subscription_state WHERE id = $1 FOR UPDATE", sid
            )
            numbers[sid] = None if found is None else int(found)
        last = numbers[sid]
        if last is None:
            continue  # the subscription is gone
        number = last + 1
        numbers[sid] = number
        stored.append(
            SubscriptionEvent(
                sid,
                number,
                event.seq,
                event.resource_type,
                event.id,
                event.version,
                event.method,
                event.at,
            )
        )
    if stored:
        await conn.executemany(
            f"INSERT INTO subscription_event ({_EVENT_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (e.subscription, e.number, e.seq, e.resource_type, e.id, e.version, e.method, e.at)
                for e in stored
            ],
        )
    updates = [(number, sid) for sid, number in numbers.items() if number is not None]
    if updates:
        await conn.executemany("UPDATE subscription_state SET events = $1 WHERE id = $2", updates)
    await _move_cursor(conn, through)
    return stored


async def open_state(
    conn: asyncpg.Connection,
    sid: str,
    start_seq: int,
    status: str,
    owner: RequestContext,
    now: str,
) -> SubscriptionState:
    row = await conn.fetchrow(
        f"INSERT INTO subscription_state AS s ({_STATE_COLUMNS})"
        " VALUES ($1, $2, $3, 0, 0, NULL, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
        " changed = CASE WHEN s.status = excluded.status THEN s.changed"
        " ELSE excluded.changed END,"
        " error = CASE WHEN s.status = excluded.status THEN s.error ELSE NULL END"
        f" RETURNING {_STATE_COLUMNS}",
        sid,
        status,
        start_seq,
        owner.principal,
        owner.organisation,
        now,
    )
    return SubscriptionState(*row)


async def apply(
    conn: asyncpg.Connection, sid: str, seq: int, status: str, owner: RequestContext, now: str
) -> SubscriptionState | None:
    """In a transaction: under the matcher's lock, as `record`."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCHER_LOCK)
    if await cursor(conn) >= seq:
        return await state(conn, sid)  # another process's matcher applied it
    opened = await open_state(conn, sid, seq, status, owner, now)
    await _move_cursor(conn, seq)
    return opened


async def _move_cursor(conn: asyncpg.Connection, through: int) -> None:
    await conn.execute(
        "INSERT INTO subscription_cursor AS c (name, seq) VALUES ($1, $2)"
        " ON CONFLICT (name) DO UPDATE SET seq = greatest(c.seq, excluded.seq)",
        _MATCHER,
        through,
    )


async def close(conn: asyncpg.Connection, sid: str) -> None:
    await conn.execute("DELETE FROM subscription_event WHERE subscription = $1", sid)
    await conn.execute("DELETE FROM subscription_state WHERE id = $1", sid)


async def change(conn: asyncpg.Connection, changes: Sequence[StateChange], now: str) -> None:
    for item in changes:
        if item.status is not None:
            await conn.execute(
                "UPDATE subscription_state SET status = $1, error = $2,"
                " changed = CASE WHEN status = $1 THEN changed ELSE $3 END WHERE id = $4",
                item.status,
                item.error,
                now,
                item.id,
            )
        if item.delivered is not None:
            await conn.execute(
                "UPDATE subscription_state SET delivered = greatest(delivered, $1) WHERE id = $2",
                item.delivered,
                item.id,
            )


async def states(conn: asyncpg.Connection) -> list[SubscriptionState]:
    rows = await conn.fetch(f"SELECT {_STATE_COLUMNS} FROM subscription_state ORDER BY id")
    return [SubscriptionState(*row) for row in rows]


async def state(conn: asyncpg.Connection, sid: str) -> SubscriptionState | None:
    row = await conn.fetchrow(f"SELECT {_STATE_COLUMNS} FROM subscription_state WHERE id = $1", sid)
    return None if row is None else SubscriptionState(*row)


async def events(
    conn: asyncpg.Connection, sid: str, first: int, last: int | None, limit: int
) -> list[SubscriptionEvent]:
    upper = last if last is not None else 2**62
    rows = await conn.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM subscription_event"
        " WHERE subscription = $1 AND number >= $2 AND number <= $3 ORDER BY number LIMIT $4",
        sid,
        first,
        upper,
        limit,
    )
    return [SubscriptionEvent(*row) for row in rows]


async def leases(
    conn: asyncpg.Connection, owner: str, sids: Sequence[str], seconds: float
) -> set[str]:
    """Claim or renew the leases of `sids` for `owner` for `seconds`; the ids it holds.
    Rows another process is claiming right now are skipped, not waited for."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO subscription_lease (id, owner, until)"
            " SELECT unnest($1::text[]), $2, now() - interval '1 second'"
            " ON CONFLICT (id) DO NOTHING",
            list(sids),
            owner,
        )
        rows = await conn.fetch(
            "UPDATE subscription_lease SET owner = $2,"
            " until = now() + $3 * interval '1 second'"
            " WHERE id IN (SELECT id FROM subscription_lease WHERE id = ANY($1::text[])"
            "   AND (owner = $2 OR until < now()) FOR UPDATE SKIP LOCKED)"
            " RETURNING id",
            list(sids),
            owner,
            seconds,
        )
    return {str(r["id"]) for r in rows}


async def release(conn: asyncpg.Connection, owner: str) -> None:
    await conn.execute("DELETE FROM subscription_lease WHERE owner = $1", owner)
