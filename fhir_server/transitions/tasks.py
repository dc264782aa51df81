"""The Tasks of the workflow: made for each obligation, completed by the notice that fulfils
it, cancelled when its reason goes away (DOMAIN.md "Mapping to FHIR R4": Task)."""

from __future__ import annotations

from datetime import datetime

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.ids import new_id
from fhir_server.storage.port import Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import fhir_instant, instant, now
from fhir_server.transitions.deviations import mark_overdue, missed
from fhir_server.transitions.resources import (
    OPEN,
    Resource,
    business_status,
    data_of,
    deadline_of,
    is_open,
    reference,
    task_type,
)

OPEN_SEARCH = ",".join(OPEN)


def profile_of(task_code: str) -> str:
    return f"{CANONICAL_BASE}/StructureDefinition/lus-task-{task_code}"


def new_task(
    code: str,
    *,
    owner: str,
    requester: str | None,
    patient: str,
    stay: str,
    focus: str,
    authored: str,
    due: datetime,
    description: str,
) -> Resource:
    task: Resource = {
        "resourceType": "Task",
        "id": new_id(),
        "meta": {"profile": [profile_of(code)]},
        "status": "requested",
        "businessStatus": business_status(c.I_TID),
        "intent": "order",
        "code": {
            "coding": [{"system": c.TASK_TYPE, "code": code, "display": c.TASK_DISPLAY[code]}]
        },
        "description": description,
        "focus": {"reference": focus},
        "for": {"reference": patient},
        "encounter": {"reference": stay},
        "authoredOn": authored,
        "owner": {"reference": owner},
        "restriction": {"period": {"end": fhir_instant(due)}},
    }
    if requester is not None:
        task["requester"] = {"reference": requester}
    return task


async def on(
    tx: Transaction, *, stay: str | None = None, focus: str | None = None
) -> list[Resource]:
    """Every Task on a stay (Task.encounter), else on a focus, asked of the store by that
    one selective reference (a stay has a handful of Tasks)."""
    assert stay is not None or focus is not None, "a stay or a focus"
    criteria = [("encounter", stay)] if stay is not None else [("focus", str(focus))]
    found = [data_of(version) for version in await tx.find("Task", criteria)]
    return [task for task in found if task is not None]


async def find(
    tx: Transaction,
    code: str,
    *,
    stay: str | None = None,
    focus: str | None = None,
    owner: str | None = None,
    open_only: bool = False,
) -> list[Resource]:
    """The Tasks of one type on a stay or a focus, by owner, oldest first. The store is
    asked only by the stay or focus (`on`); the rest is checked here, which is faster than
    the store intersecting a common task code."""
    tasks = []
    for task in await on(tx, stay=stay, focus=focus):
        if task_type(task) != code:
            continue
        if focus is not None and reference(task.get("focus")) != focus:
            continue
        if owner is not None and reference(task.get("owner")) != owner:
            continue
        if open_only and not is_open(task):
            continue
        tasks.append(task)
    return sorted(tasks, key=lambda t: (str(t.get("authoredOn", "")), str(t["id"])))


# obligations a unit has once per stay (the others once per notice)
ONCE_PER_STAY = frozenset(
    {c.PABORJA_PLANERING, c.UTSE_FAST_VARDKONTAKT, c.SKICKA_PLANERINGSUNDERLAG}
)


async def ensure(tx: Transaction, task: Resource) -> Resource:
    """Write `task` unless its owner has the same obligation already: of its kind for the
    stay, or (kvittera, kalla-till-sip, …) for the same notice."""
    code = task["code"]["coding"][0]["code"]
    owner = task["owner"]["reference"]
    if code in ONCE_PER_STAY:
        existing = await find(tx, code, stay=task["encounter"]["reference"], owner=owner)
    else:
        existing = await find(tx, code, focus=task["focus"]["reference"], owner=owner)
    if existing:
        return existing[0]
    await tx.write("Task", task["id"], task, "POST")
    return task


async def complete(tx: Transaction, task: Resource, done_at: str, by: str | None) -> None:
    """Mark an open task completed at `done_at`, with the notice that did it as output."""
    if not is_open(task):
        return
    task["status"] = "completed"
    task.setdefault("executionPeriod", {})["end"] = done_at
    await late_completion(tx, task)
    if by is not None:
        outputs = task.setdefault("output", [])
        outputs.append({"type": {"text": "Utfört genom"}, "valueReference": {"reference": by}})
    await tx.write("Task", task["id"], task, "PUT")


async def late_completion(tx: Transaction, task: Resource) -> bool:
    """A task completed after its deadline is a missed deadline too (forsenad, and a
    deviation), also when the clocks had not looked yet. True when it was late."""
    done = task.get("executionPeriod", {}).get("end")
    if isinstance(done, str) and missed(task, instant(done)):
        await mark_overdue(tx, task, write_task=False)
        return True
    return False


async def cancel(tx: Transaction, task: Resource, reason: str) -> None:
    if not is_open(task):
        return
    task["status"] = "cancelled"
    task["statusReason"] = {"text": reason}
    task.setdefault("executionPeriod", {})["end"] = fhir_instant(now())
    await tx.write("Task", task["id"], task, "PUT")


async def move_deadline(tx: Transaction, task: Resource, due: datetime) -> None:
    if not is_open(task) or deadline_of(task) == due:
        return
    task.setdefault("restriction", {}).setdefault("period", {})["end"] = fhir_instant(due)
    await tx.write("Task", task["id"], task, "PUT")


def owner_of(task: Resource) -> str | None:
    return reference(task.get("owner"))
