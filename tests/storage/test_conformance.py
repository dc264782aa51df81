"""What every storage adapter must do (the port's contract), adapter-independent."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from fhir_server.outcome import FhirError, conflict
from fhir_server.storage.port import RequestContext, Transaction
from tests.storage.conftest import Runner

CTX = RequestContext(principal="tester", organisation="kommun-0880")


def _patient(family: str, pnr: str = "191212121212") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": "http://electronichealth.se/identifier/personnummer", "value": pnr}
        ],
        "name": [{"family": family}],
    }


def _put(store: Runner, rid: str, resource: dict[str, Any] | None) -> Any:
    async def job(tx: Transaction) -> Any:
        return await tx.write("Patient", rid, resource, "PUT" if resource else "DELETE")

    return store(store.store.run(CTX, job))


def test_write_read_versions(store: Runner) -> None:
    first = _put(store, "a", _patient("Ek"))
    assert first.version_id == 1 and not first.deleted
    assert orjson.loads(first.data)["meta"]["versionId"] == "1"
    second = _put(store, "a", _patient("Ask"))
    assert second.version_id == 2 and second.seq > first.seq
    assert second.last_updated > first.last_updated
    current = store(store.store.read(CTX, "Patient", "a"))
    assert orjson.loads(current.data)["name"][0]["family"] == "Ask"
    old = store(store.store.vread(CTX, "Patient", "a", 1))
    assert orjson.loads(old.data)["name"][0]["family"] == "Ek"
    assert store(store.store.read(CTX, "Patient", "nope")) is None
    assert store(store.store.vread(CTX, "Patient", "a", 3)) is None
    deleted = _put(store, "a", None)
    assert deleted.deleted and deleted.version_id == 3 and deleted.data is None
    assert store(store.store.read(CTX, "Patient", "a")).deleted


def test_a_failing_job_leaves_no_trace(store: Runner) -> None:
    async def job(tx: Transaction) -> None:
        await tx.write("Patient", "x1", _patient("Ek"), "PUT")
        await tx.write("Patient", "x2", _patient("Ek"), "PUT")
        raise conflict("changed my mind")

    with pytest.raises(FhirError) as raised:
        store(store.store.run(CTX, job))
    assert raised.value.status == 409
    assert store(store.store.read(CTX, "Patient", "x1")) is None
    page = store(store.store.history(CTX, None, None, since=None, at=None, count=10, cursor=None))
    assert page.total == 0
    assert store(store.store.outbox_after(0, 10)) == []


def test_jobs_are_serialised(store: Runner) -> None:
    """Read-modify-write inside jobs never loses an increment, however many run at once."""
    _put(store, "counter", {**_patient("0"), "multipleBirthInteger": 0})

    async def increment(tx: Transaction) -> None:
        current = await tx.read("Patient", "counter")
        assert current is not None and current.data is not None
        body = orjson.loads(current.data)
        body["multipleBirthInteger"] += 1
        await tx.write("Patient", "counter", body, "PUT")

    async def many() -> None:
        await asyncio.gather(*(store.store.run(CTX, increment) for _ in range(200)))

    store(many())
    final = store(store.store.read(CTX, "Patient", "counter"))
    assert orjson.loads(final.data)["multipleBirthInteger"] == 200
    assert final.version_id == 201


def test_outbox_has_one_event_per_version_in_order(store: Runner) -> None:
    _put(store, "a", _patient("Ek"))
    _put(store, "b", _patient("Ek"))
    _put(store, "a", None)
    events = store(store.store.outbox_after(0, 10))
    assert [(e["id"], e["version"], e["method"]) for e in events] == [
        ("a", 1, "PUT"),
        ("b", 1, "PUT"),
        ("a", 2, "DELETE"),
    ]
    assert events[0]["principal"] == "tester" and events[0]["organisation"] == "kommun-0880"
    assert store(store.store.outbox_after(events[1]["seq"], 10)) == events[2:]


def test_history_order_paging_since_at(store: Runner) -> None:
    for i in range(5):
        _put(store, f"p{i}", _patient(f"F{i}"))
    middle = store(store.store.read(CTX, "Patient", "p2")).last_updated
    _put(store, "p0", _patient("Changed"))
    page = store(
        store.store.history(CTX, "Patient", None, since=None, at=None, count=4, cursor=None)
    )
    assert page.total == 6
    assert [(v.id, v.version_id) for v in page.versions] == [
        ("p0", 2),
        ("p4", 1),
        ("p3", 1),
        ("p2", 1),
    ]
    rest = store(
        store.store.history(
            CTX, "Patient", None, since=None, at=None, count=4, cursor=page.next_cursor
        )
    )
    assert [(v.id, v.version_id) for v in rest.versions] == [("p1", 1), ("p0", 1)]
    assert rest.next_cursor is None
    since = store(
        store.store.history(CTX, None, None, since=middle, at=None, count=10, cursor=None)
    )
    assert {v.id for v in since.versions} == {"p2", "p3", "p4", "p0"}
    at = store(
        store.store.history(CTX, "Patient", "p0", since=None, at=middle, count=10, cursor=None)
    )
    assert [v.version_id for v in at.versions] == [1]


def test_find_by_criteria_inside_a_job(store: Runner) -> None:
    _put(store, "a", _patient("Ek", "191212121212"))
    _put(store, "b", _patient("Ek", "194001019807"))

    async def job(tx: Transaction) -> list[str]:
        await tx.write("Patient", "c", _patient("Ny", "194001019807"), "PUT")
        found = await tx.find(
            "Patient",
            [("identifier", "http://electronichealth.se/identifier/personnummer|194001019807")],
        )
        return sorted(v.id for v in found)

    # a job sees its own writes
    assert store(store.store.run(CTX, job)) == ["b", "c"]
    _put(store, "b", None)
    result = store(store.store.search(CTX, "Patient", [("identifier", "194001019807")], count=10))
    assert [v.id for v in result.versions] == ["c"]  # deleted resources do not match
