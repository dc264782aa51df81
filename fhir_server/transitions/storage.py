"""The workflow wrapped around the store: every job's LUS writes get their reactions in the
same transaction (reactions.py).

It sits below the security wrapper, so a client's own writes are checked against its
scopes while the server's reactions (Tasks, the stay's state, a municipality's
Organization) are the server's work, written in the client's transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.search.index import IndexEntries
from fhir_server.storage.port import (
    Criteria,
    RequestContext,
    Storage,
    StoredVersion,
    Transaction,
)
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import fhir_instant, now
from fhir_server.transitions.profiles import check_written
from fhir_server.transitions.reactions import Workflow, Written, refuse_notice_delete
from fhir_server.transitions.resources import (
    data_of,
    notice_type,
    set_extension,
    state_coding,
    stay_state_code,
    task_type,
)
from fhir_server.transitions.tasks import late_completion
from fhir_server.validation.profile import ProfileValidator

T = TypeVar("T")
LUS_ENCOUNTER = f"{CANONICAL_BASE}/StructureDefinition/lus-encounter"
WATCHED = frozenset({"Communication", "Encounter", "Task", "CarePlan"})


class WorkflowStorage:
    def __init__(
        self, inner: Storage, workflow: Workflow, profiles: ProfileValidator | None = None
    ) -> None:
        self.inner = inner
        self.workflow = workflow
        # LUS resources are checked against their profile, claimed or not (profiles.py)
        self.profiles = profiles

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def run(self, ctx: RequestContext, job: Callable[[Transaction], Awaitable[T]]) -> T:
        async def reacting(tx: Transaction) -> T:
            recording = RecordingTransaction(tx, self.workflow)
            result = await job(recording)
            if not recording.writes:
                return result
            noting = NotingTransaction(tx)
            await self.workflow.react(noting, recording.writes)
            if self.profiles is not None:
                # what the client wrote, as stored with what the server added; the server's
                # own resources (Tasks, …) meet their profiles by construction (tested)
                written = {(w.resource_type, w.rid) for w in recording.writes}
                await check_written(tx, self.profiles, written)
            if noting.written:
                return await _current(tx, result, noting.written)
            return result

        return await self.inner.run(ctx, reacting)


async def _current(tx: Transaction, result: Any, rewritten: set[tuple[str, str]]) -> Any:
    """The job's answer showing the versions the reactions wrote over (e.g. a notice with
    the receivers the server added): a WriteResult, or the entries of a transaction."""
    if isinstance(result, list):
        return [await _current(tx, item, rewritten) for item in result]
    version = getattr(result, "version", None)
    if isinstance(version, StoredVersion) and (version.resource_type, version.id) in rewritten:
        return dataclasses.replace(result, version=await tx.read(version.resource_type, version.id))
    return result


class NotingTransaction:
    """The transaction the reactions write through, noting what they wrote."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self.written: set[tuple[str, str]] = set()

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        return await self._tx.read(resource_type, rid)

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        return await self._tx.find(resource_type, criteria)

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        self.written.add((resource_type, rid))
        return await self._tx.write(resource_type, rid, resource, method, index)


class RecordingTransaction:
    """A job's transaction that notes its writes of LUS resources (with the version before)
    and fills in what the server keeps: an Encounter's LUS state, a Task's completion time."""

    def __init__(self, tx: Transaction, workflow: Workflow) -> None:
        self._tx = tx
        self._workflow = workflow
        self.writes: list[Written] = []

    async def read(self, resource_type: str, rid: str) -> StoredVersion | None:
        return await self._tx.read(resource_type, rid)

    async def find(self, resource_type: str, criteria: Criteria) -> list[StoredVersion]:
        return await self._tx.find(resource_type, criteria)

    async def write(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        method: str,
        index: IndexEntries | None = None,
    ) -> StoredVersion:
        if resource_type not in WATCHED:
            return await self._tx.write(resource_type, rid, resource, method, index)
        before = data_of(await self._tx.read(resource_type, rid))
        written = Written(resource_type, rid, before, resource)
        if resource is None:
            if notice_type(before) is not None:
                raise refuse_notice_delete(f"{resource_type}/{rid}")
        elif resource_type == "Encounter":
            if await self._encounter(written, resource):
                index = None  # the caller's index lacks what was filled in
        elif task_type(resource) is not None and await self._task(before, resource):
            index = None
        version = await self._tx.write(resource_type, rid, resource, method, index)
        self.writes.append(written)
        return version

    async def _encounter(self, written: Written, resource: dict[str, Any]) -> bool:
        """Give the Encounter the state its notices make now (confirmed at the job's end)."""
        written.client_state = stay_state_code(resource)
        is_stay = written.client_state is not None or stay_state_code(written.before or {})
        if not is_stay and not _claims_lus_profile(resource):
            return False
        state = await self._workflow.derived_state(self._tx, f"Encounter/{written.rid}", resource)
        unchanged = written.client_state == stay_state_code(written.before or {})
        if (written.client_state is None or unchanged) and written.client_state != state:
            set_extension(resource, c.STATE_EXTENSION, "Coding", state_coding(state))
            return True  # the index the caller computed lacks the state
        return False

    async def _task(self, before: dict[str, Any] | None, resource: dict[str, Any]) -> bool:
        """Completing a LUS task records when (executionPeriod.end), unless the client did;
        completing it after its deadline records the miss (tasks.late_completion)."""
        done = resource.get("status") == "completed"
        was_done = before is not None and before.get("status") == "completed"
        if not done or was_done:
            return False
        if not resource.get("executionPeriod", {}).get("end"):
            resource.setdefault("executionPeriod", {})["end"] = fhir_instant(now())
        await late_completion(self._tx, resource)
        return True


def _claims_lus_profile(resource: dict[str, Any]) -> bool:
    return LUS_ENCOUNTER in resource.get("meta", {}).get("profile", [])
