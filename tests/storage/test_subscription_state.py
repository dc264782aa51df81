"""The port's subscription delivery state: every adapter must keep it the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fhir_server.storage.port import MatchedEvent, RequestContext, StateChange
from fhir_server.storage.sqlite.connection import SCHEMA_VERSION, apply_schema, migrations
from tests.storage.conftest import Runner

OWNER = RequestContext(principal="app-1", organisation="kommun-0880")


def _matched(sid: str, seq: int, rid: str = "c1") -> MatchedEvent:
    return MatchedEvent(sid, seq, "Communication", rid, 1, "POST", "2026-01-01T00:00:00.000000Z")


def test_events_are_numbered_per_subscription_without_gaps(store: Runner) -> None:
    s = store.store
    assert store(s.subscription_cursor()) == 0
    opened = store(s.subscription_open("a", 5, "requested", OWNER))
    assert (opened.status, opened.events, opened.delivered, opened.start_seq) == (
        "requested",
        0,
        0,
        5,
    )
    assert (opened.principal, opened.organisation) == ("app-1", "kommun-0880")
    store(s.subscription_open("b", 6, "active", OWNER))
    stored = store(
        s.subscription_record(
            10,
            [_matched("a", 7), _matched("b", 7), _matched("a", 8), _matched("gone", 8)],
        )
    )
    assert [(e.subscription, e.number, e.seq) for e in stored] == [
        ("a", 1, 7),
        ("b", 1, 7),
        ("a", 2, 8),
    ]
    assert store(s.subscription_cursor()) == 10
    more = store(s.subscription_record(12, [_matched("a", 11, "c2")]))
    assert [(e.number, e.id) for e in more] == [(3, "c2")]
    assert store(s.subscription_state("a")).events == 3
    # the cursor never goes back
    store(s.subscription_record(9, []))
    assert store(s.subscription_cursor()) == 12
    events = store(s.subscription_events("a", 2, None, 10))
    assert [(e.number, e.seq, e.resource_type, e.id, e.version, e.method) for e in events] == [
        (2, 8, "Communication", "c1", 1, "POST"),
        (3, 11, "Communication", "c2", 1, "POST"),
    ]
    assert [e.number for e in store(s.subscription_events("a", 1, 2, 10))] == [1, 2]
    assert [e.number for e in store(s.subscription_events("a", 1, None, 1))] == [1]


def test_reopening_keeps_numbers_and_closing_forgets(store: Runner) -> None:
    s = store.store
    store(s.subscription_open("a", 5, "requested", OWNER))
    store(s.subscription_record(8, [_matched("a", 7), _matched("a", 8)]))
    again = store(s.subscription_open("a", 99, "active", RequestContext()))
    assert (again.events, again.start_seq, again.status, again.principal) == (
        2,
        5,
        "active",
        "app-1",
    )
    store(s.subscription_close("a"))
    assert store(s.subscription_state("a")) is None
    assert store(s.subscription_events("a", 1, None, 10)) == []
    assert store(s.subscription_states()) == []


def test_state_changes(store: Runner) -> None:
    s = store.store
    store(s.subscription_open("a", 1, "requested", OWNER))
    store(s.subscription_open("b", 1, "active", OWNER))
    store(s.subscription_record(3, [_matched("a", 2), _matched("a", 3)]))
    before = store(s.subscription_state("a")).changed
    store(
        s.subscription_change(
            [StateChange("a", status="error", error="no-response"), StateChange("b", delivered=0)]
        )
    )
    failed = store(s.subscription_state("a"))
    assert (failed.status, failed.error) == ("error", "no-response")
    assert failed.changed > before
    store(s.subscription_change([StateChange("a", delivered=2)]))
    store(s.subscription_change([StateChange("a", delivered=1)]))  # never backwards
    store(s.subscription_change([StateChange("a", status="active")]))
    recovered = store(s.subscription_state("a"))
    assert (recovered.status, recovered.error, recovered.delivered) == ("active", None, 2)
    assert [x.id for x in store(s.subscription_states())] == ["a", "b"]


def test_commit_watchers_are_called_after_commits(store: Runner) -> None:
    s = store.store
    calls: list[int] = []
    stop = s.watch_commits(lambda: calls.append(1))
    store(s.subscription_open("a", 1, "active", OWNER))
    assert calls
    stop()
    count = len(calls)
    store(s.subscription_open("b", 1, "active", OWNER))
    assert len(calls) == count


def test_sqlite_migrates_a_version_1_store(tmp_path: Path) -> None:
    """A store made by the first schema gains the subscription tables, once."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    (number, schema), *_ = migrations()
    assert number == 1
    conn.executescript(f"BEGIN;\n{schema.read_text()}\nPRAGMA user_version=1;\nCOMMIT;")
    conn.execute(
        "INSERT INTO outbox (seq, type, id, version, method, at) VALUES (1, 'Patient', 'p', 1,"
        " 'PUT', '2026-01-01T00:00:00.000000Z')"
    )
    apply_schema(conn)
    apply_schema(conn)  # idempotent
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM subscription_state").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    conn.close()
