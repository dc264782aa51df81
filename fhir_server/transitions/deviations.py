"""Missed deadlines (avvikelser): an overdue Task turns forsenad and the miss is recorded as
a DetectedIssue, so that deviations can be listed per party and period:

    GET /DetectedIssue?implicated=Organization/<id>&identified=ge2026-02-01&identified=lt2026-03-01

`implicated` names the Task and the party that owned it, `identified` is the deadline that
passed, `code` the obligation (lus-task-type), `patient` the patient. One deviation per
Task and deadline (its identifier), however often the clocks look.
"""

from __future__ import annotations

from datetime import datetime

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.ids import new_id
from fhir_server.storage.port import Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import fhir_instant
from fhir_server.transitions.resources import (
    Resource,
    business_status,
    coded,
    deadline_of,
    reference,
)

DEVIATION_IDENTIFIER = f"{CANONICAL_BASE}/sid/avvikelse"


def is_overdue(task: Resource) -> bool:
    return coded(task.get("businessStatus"), c.TASK_BUSINESS_STATUS) == c.FORSENAD


def missed(task: Resource, at: datetime) -> bool:
    """True when the task's deadline passed before `at` and it is not marked yet."""
    deadline = deadline_of(task)
    return deadline is not None and deadline < at and not is_overdue(task)


async def mark_overdue(tx: Transaction, task: Resource, write_task: bool = True) -> None:
    """Mark the task forsenad (written unless the caller writes it) and record the miss."""
    task["businessStatus"] = business_status(c.FORSENAD)
    if write_task:
        await tx.write("Task", task["id"], task, "PUT")
    await record(tx, task)


async def record(tx: Transaction, task: Resource) -> None:
    deadline = deadline_of(task)
    assert deadline is not None
    key = f"Task/{task['id']}@{fhir_instant(deadline)}"
    if await tx.find("DetectedIssue", [("identifier", f"{DEVIATION_IDENTIFIER}|{key}")]):
        return
    code = task["code"]["coding"][0]
    owner = reference(task.get("owner"))
    implicated = [{"reference": f"Task/{task['id']}"}]
    if owner is not None:
        implicated.append({"reference": owner})
    rid = new_id()
    issue: Resource = {
        "resourceType": "DetectedIssue",
        "id": rid,
        "identifier": [{"system": DEVIATION_IDENTIFIER, "value": key}],
        "status": "final",
        "code": {
            "coding": [
                {"system": c.TASK_TYPE, "code": code["code"], "display": code.get("display")}
            ],
            "text": f"Avvikelse: {code.get('display', code['code'])} inte utförd i tid",
        },
        "severity": "moderate",
        "identifiedDateTime": fhir_instant(deadline),
        "implicated": implicated,
        "detail": (
            f"Tidsfristen {fhir_instant(deadline)} för '{code.get('display', code['code'])}'"
            f" passerade innan uppgiften var utförd (ansvarig: {owner or 'okänd'})."
        ),
    }
    patient = reference(task.get("for"))
    if patient is not None:
        issue["patient"] = {"reference": patient}
    await tx.write("DetectedIssue", rid, issue, "POST")
