"""The port's subscription delivery state: every adapter must keep it the same way."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from fhir_server.definitions import load_definitions
from fhir_server.storage.port import MatchedEvent, RequestContext, StateChange
from fhir_server.storage.sqlite import SqliteStorage
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


def test_events_at_or_below_the_cursor_are_not_numbered_again(store: Runner) -> None:
    """Two processes' matchers record the same outbox: what one numbered, the other's
    record drops, and the cursor never moves back."""
    s = store.store
    store(s.subscription_open("a", 1, "active", OWNER))
    first = store(s.subscription_record(8, [_matched("a", 5), _matched("a", 8)]))
    assert [e.number for e in first] == [1, 2]
    late = store(s.subscription_record(9, [_matched("a", 5), _matched("a", 8), _matched("a", 9)]))
    assert [(e.number, e.seq) for e in late] == [(3, 9)]
    assert store(s.subscription_record(4, [_matched("a", 4)])) == []
    assert store(s.subscription_cursor()) == 9
    assert [e.seq for e in store(s.subscription_events("a", 1, None, 10))] == [5, 8, 9]


def test_a_subscription_change_is_applied_once_over_processes(store: Runner) -> None:
    s = store.store
    applied = store(s.subscription_apply("a", 5, "requested", OWNER))
    assert applied is not None and applied.status == "requested"
    assert store(s.subscription_cursor()) == 5
    store(s.subscription_change([StateChange("a", status="active")]))
    # a matcher behind reaches the same change: it gets the state as it is now
    again = store(s.subscription_apply("a", 5, "requested", OWNER))
    assert again is not None and again.status == "active"
    # deleted since: nothing to run
    store(s.subscription_close("a"))
    assert store(s.subscription_apply("a", 5, "requested", OWNER)) is None
    assert store(s.subscription_state("a")) is None
    later = store(s.subscription_apply("a", 7, "requested", OWNER))
    assert later is not None and later.start_seq == 7


def test_a_delivery_lease_has_one_holder_until_it_runs_out(store: Runner) -> None:
    s = store.store
    assert store(s.subscription_leases("p1", ["a", "b"], 30)) == {"a", "b"}
    assert store(s.subscription_leases("p2", ["a", "b", "c"], 30)) == {"c"}
    assert store(s.subscription_leases("p1", ["a", "b"], 30)) == {"a", "b"}  # renewed
    store(s.subscription_release("p1"))
    assert store(s.subscription_leases("p2", ["a", "b", "c"], 30)) == {"a", "b", "c"}
    assert store(s.subscription_leases("p3", ["a"], 0.05)) == set()
    # one that is not renewed runs out
    assert store(s.subscription_leases("p2", ["a"], 0.05)) == {"a"}
    time.sleep(0.2)
    assert store(s.subscription_leases("p3", ["a"], 30)) == {"a"}


def test_a_secondary_sqlite_store_needs_the_owner_to_prepare_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    loop = asyncio.new_event_loop()
    try:
        early = SqliteStorage(path, load_definitions(), secondary=True)
        with pytest.raises(RuntimeError, match="must prepare it first"):
            loop.run_until_complete(early.start())
        loop.run_until_complete(early.close())
        owner = SqliteStorage(path, load_definitions())
        loop.run_until_complete(owner.start())
        second = SqliteStorage(path, load_definitions(), secondary=True)
        loop.run_until_complete(second.start())
        assert second._checkpointer is None  # the owner's checkpointer does that
        # both write: the second waits for the lock the first holds (busy timeout)
        loop.run_until_complete(owner.subscription_open("a", 1, "active", OWNER))
        stored = loop.run_until_complete(second.subscription_record(3, [_matched("a", 2)]))
        assert [e.number for e in stored] == [1]
        assert loop.run_until_complete(owner.subscription_record(3, [_matched("a", 2)])) == []
        loop.run_until_complete(second.close())
        loop.run_until_complete(owner.close())
    finally:
        loop.close()
