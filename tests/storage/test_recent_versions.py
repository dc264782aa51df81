"""Committed versions handed to the outbox's followers in this process (storage/recent.py):
what a job committed is found with the index entries it was stored with; what a job that
failed wrote is not, and the store reads it back as before."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fhir_server.outcome import FhirError, conflict
from fhir_server.storage.port import RequestContext, StoredVersion, Transaction
from fhir_server.storage.recent import RecentVersions
from tests.storage.conftest import Runner

CTX = RequestContext(principal="tester")


def _patient(family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}]}


def test_committed_versions_come_with_their_index_entries(store: Runner) -> None:
    async def job(tx: Transaction) -> None:
        await tx.write("Patient", "r1", _patient("Ek"), "PUT")
        await tx.write("Patient", "r1", _patient("Ask"), "PUT")

    store(store.store.run(CTX, job))
    first = store.store.recent_version("Patient", "r1", 1)
    second = store.store.recent_version("Patient", "r1", 2)
    assert first is not None and second is not None
    version, entries = second
    assert orjson.loads(version.data)["name"][0]["family"] == "Ask"
    assert version.seq > first[0].seq
    assert entries is not None
    assert ("family", "ask", "Ask") in entries.strings
    stored = store(store.store.vread(CTX, "Patient", "r1", 2))
    assert stored.data == version.data and stored.seq == version.seq


def test_a_failed_job_publishes_nothing(store: Runner) -> None:
    async def job(tx: Transaction) -> None:
        await tx.write("Patient", "r2", _patient("Ek"), "PUT")
        raise conflict("changed my mind")

    with pytest.raises(FhirError):
        store(store.store.run(CTX, job))
    assert store.store.recent_version("Patient", "r2", 1) is None

    async def again(tx: Transaction) -> None:  # the same version number, now committed
        await tx.write("Patient", "r2", _patient("Lind"), "PUT")

    store(store.store.run(CTX, again))
    found = store.store.recent_version("Patient", "r2", 1)
    assert found is not None and b"Lind" in (found[0].data or b"")


def test_a_deletion_is_published_without_entries(store: Runner) -> None:
    async def job(tx: Transaction) -> None:
        await tx.write("Patient", "r3", _patient("Ek"), "PUT")
        await tx.write("Patient", "r3", None, "DELETE")

    store(store.store.run(CTX, job))
    found = store.store.recent_version("Patient", "r3", 2)
    assert found is not None
    assert found[0].deleted and found[0].data is None and found[1] is None


def _version(rid: str, number: int) -> StoredVersion:
    return StoredVersion("Patient", rid, number, "2026-01-01T00:00:00Z", False, "PUT", b"{}")


def test_only_the_latest_are_kept() -> None:
    recent = RecentVersions(limit=3)
    recent.publish([(_version(f"p{i}", 1), None) for i in range(5)])
    assert recent.get("Patient", "p0", 1) is None and recent.get("Patient", "p1", 1) is None
    assert all(recent.get("Patient", f"p{i}", 1) is not None for i in (2, 3, 4))
