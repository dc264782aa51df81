"""ADT events → Patient and Encounter, each message in one storage transaction.

A01 admits (the Patient found by personnummer or samordningsnummer is created or updated,
the stay found by visit number created), A02 moves the stay to another ward, A03
discharges it, A08 updates the Patient (and the stay when it is known), A11 cancels the
admission (entered-in-error), A13 cancels the discharge. What each event does, and which
field fills which element, is in mappings/hl7v2-adt.toml.

Resources pass the checks of a REST write (structure, FHIR JSON rules, profiles) before
they are stored. The LUS state of the stay (lus-state) is not ours to write: it is derived
by the server's workflow (fhir_server/transitions/) from the Encounter's status and the
stay's notices on every Encounter write. When an event changes the status, the stored
state (which followed the old status) is left out of what we write, to be derived afresh;
otherwise it is kept as it is, so that a message that changes nothing writes nothing.

Any problem raises a MessageProblem inside the job, which undoes the whole transaction:
an AE or AR stores nothing.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fhir_server import fhirjson
from fhir_server.interactions.create import create_in
from fhir_server.interactions.incoming import check_resource
from fhir_server.interactions.update import update_in
from fhir_server.mappings import engine
from fhir_server.mappings.ack import acknowledgment
from fhir_server.mappings.er7 import Message, parse
from fhir_server.mappings.problems import MessageProblem
from fhir_server.mappings.rules import AdtMapping, Event, ResourceMapping, adt_mapping
from fhir_server.outcome import FhirError, Issue
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext, StoredVersion, Transaction
from fhir_server.transitions.codes import STATE_EXTENSION

log = logging.getLogger(__name__)

ACCEPTED, ERROR, REJECTED = "AA", "AE", "AR"
Resource = dict[str, Any]


@dataclass
class Outcome:
    """What became of one message: its ACK and what was stored."""

    code: str  # AA, AE or AR
    ack: str  # the ACK message, ER7
    problem: MessageProblem | None = None
    written: list[str] = field(default_factory=list)  # Type/id/_history/v
    event: str = ""
    control_id: str = ""


def charset(head: str, mapping: AdtMapping) -> str | None:
    """The codec of the character set MSH-18 names in a message's first line (MSH-18 is
    read before the message can be: the bytes are decoded with it)."""
    head = head.split("\r", 1)[0].split("\n", 1)[0]
    if len(head) < 4 or not head.startswith("MSH"):
        return None
    fields = head.split(head[3])  # fields[n - 1] is MSH-n
    declared = fields[17].split("~")[0].strip() if len(fields) > 17 else ""
    return mapping.charsets.get(declared)


@dataclass
class _Undone(FhirError):
    """A MessageProblem on its way out of the storage job: the store undoes a job that
    raises, and takes a FhirError as the job's own answer (anything else it logs as a
    failure of the store)."""

    problem: MessageProblem | None = None


def decode(raw: bytes) -> str:
    """The text of a message's bytes, in the character set MSH-18 names (UTF-8 when it names
    none, ISO 8859-1 when the bytes are not UTF-8)."""
    codec = charset(raw[:4096].decode("latin-1"), adt_mapping())
    if codec is not None:
        return raw.decode(codec, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def encode(ack: str, message_text: str) -> bytes:
    """An ACK's bytes, in the character set of the message it answers."""
    codec = charset(message_text[:4096], adt_mapping()) or "utf-8"
    return ack.encode(codec, errors="replace")


async def process(runtime: Runtime, context: RequestContext, text: str) -> Outcome:
    """Apply one message; its ACK says how it went. A FhirError that is not about the
    message's content (e.g. the caller may not write here) is raised."""
    mapping = adt_mapping()
    message: Message | None = None
    try:
        message = parse(text)
        event = _check_header(message, mapping)
        written = await _apply(runtime, context, message, event, mapping)
    except MessageProblem as problem:
        code = problem.ack_code
        # where and which HL7 error, not the text: it may hold a personnummer
        log.info(
            "HL7 v2 message %s answered %s: HL7 error %s at %s",
            message.control_id if message is not None else "(unread)",
            code,
            problem.error_code,
            problem.location or "the message",
        )
        return Outcome(
            code,
            acknowledgment(message, code, mapping, problem),
            problem,
            event=message.msh.value(9, 2) if message is not None else "",
            control_id=message.control_id if message is not None else "",
        )
    summary = f"{event.code} ({event.name}) applied: {', '.join(written) or 'nothing changed'}"
    return Outcome(
        ACCEPTED,
        acknowledgment(message, ACCEPTED, mapping, text=summary),
        None,
        written,
        event.code,
        message.control_id,
    )


def _check_header(message: Message, mapping: AdtMapping) -> Event:
    msh = message.msh
    kind, code = msh.value(9, 1), msh.value(9, 2)
    evn = message.segment("EVN")
    if not code and evn is not None:  # before v2.3.1 the event may be in EVN-1 only
        code = evn.value(1)
    if kind != mapping.message_type:
        raise MessageProblem.reject(
            "MSH", 9, "200", f"MSH-9 message type '{kind}' is not supported: only ADT is"
        )
    event = mapping.events.get(code)
    if event is None:
        known = ", ".join(sorted(mapping.events))
        raise MessageProblem.reject(
            "MSH", 9, "201", f"MSH-9 event '{code}' is not supported (supported: {known})"
        )
    if not message.control_id:
        raise MessageProblem.reject("MSH", 10, "101", "MSH-10 (message control id) is missing")
    processing = msh.value(11, 1)
    if processing not in mapping.processing_ids:
        raise MessageProblem.reject(
            "MSH", 11, "202", f"MSH-11 processing id '{processing}' is not supported"
        )
    version = msh.value(12, 1)
    if version not in mapping.versions:
        known = ", ".join(sorted(mapping.versions))
        raise MessageProblem.reject(
            "MSH", 12, "203", f"MSH-12 version '{version}' is not supported ({known})"
        )
    for segment in (mapping.patient.segment, mapping.encounter.segment):
        if message.segment(segment) is None:
            raise MessageProblem.error(
                segment, None, "100", f"The {code} message has no {segment} segment"
            )
    return event


def _search_token(system: str, value: str) -> str:
    """system|value with the characters search values escape (search.html#escaping)."""

    def escaped(text: str) -> str:
        for char in ("\\", "|", ",", "$"):
            text = text.replace(char, "\\" + char)
        return text

    return f"{escaped(system)}|{escaped(value)}"


def _identifiers(changes: list[engine.Change]) -> list[Resource]:
    for change in changes:
        if change.rule.target == "identifier" and isinstance(change.value, list):
            return [i for i in change.value if isinstance(i, dict)]
    return []


def _loaded(version: StoredVersion | None) -> Resource | None:
    if version is None or version.deleted or version.data is None:
        return None
    resource: Resource = fhirjson.loads(version.data)
    return resource


async def _one(
    tx: Transaction, resource_type: str, identifier: Resource, where: str
) -> Resource | None:
    system, value = identifier.get("system", ""), identifier.get("value", "")
    found = await tx.find(resource_type, [("identifier", _search_token(system, value))])
    if len(found) > 1:
        segment, _, number = where.partition("-")
        raise MessageProblem.error(
            segment,
            int(number),
            "205",
            f"{where} {value} ({system}) names {len(found)} {resource_type} resources",
        )
    return _loaded(found[0]) if found else None


def _with_profile(resource: Resource, profile: str) -> None:
    meta = resource.setdefault("meta", {})
    profiles = meta.setdefault("profile", [])
    if profile not in profiles:
        profiles.append(profile)


def _checked(runtime: Runtime, resource: Resource, mapping: ResourceMapping) -> Resource:
    """The checks of a REST write; what fails is an AE naming the field that filled it."""
    try:
        return check_resource(runtime, resource, mapping.resource_type)
    except FhirError as invalid:
        issue = invalid.issues[0] if invalid.issues else None
        expression = issue.expression[0] if issue is not None and issue.expression else ""
        segment, number = mapping.segment, None
        element = expression.split(".")[1].split("[")[0] if "." in expression else ""
        for rule in mapping.rules:
            source = rule.sources[0]
            if element and rule.target.split(".")[0].removesuffix("[]") == element:
                segment, number = source.segment or segment, source.field
                break
        raise MessageProblem.error(
            segment,
            number,
            "102",
            f"The {mapping.resource_type} made from this message is not valid: {invalid}",
        ) from None


async def _resolved(tx: Transaction, changes: list[engine.Change]) -> list[engine.Change]:
    """The changes with each reference by identifier made literal too, when the server holds
    the target (new values: a store may run a job twice)."""
    out = []
    for change in changes:
        target_type, value = change.rule.resolve, change.value
        identifier = value.get("identifier") if isinstance(value, dict) else None
        if target_type is None or not isinstance(identifier, dict):
            out.append(change)
            continue
        system, code = identifier.get("system", ""), identifier.get("value", "")
        found = await tx.find(target_type, [("identifier", _search_token(system, code))])
        value = dict(value)
        if len(found) == 1:
            target = _loaded(found[0])
            value["reference"] = f"{target_type}/{found[0].id}"
            if target is not None and isinstance(target.get("name"), str):
                value["display"] = target["name"]
        out.append(engine.Change(change.rule, value))
    return out


async def _store(
    tx: Transaction, resource_type: str, resource: Resource, existing: bool
) -> StoredVersion | None:
    """The version written; None when the resource was already so (nothing written)."""
    if not existing:
        return (await create_in(tx, resource_type, resource)).version
    before = resource.get("meta", {}).get("versionId")
    version = (await update_in(tx, resource_type, resource["id"], resource)).version
    return None if version is None or str(version.version_id) == before else version


def _history(version: StoredVersion | None) -> list[str]:
    if version is None:
        return []
    return [f"{version.resource_type}/{version.id}/_history/{version.version_id}"]


async def _apply(
    runtime: Runtime,
    context: RequestContext,
    message: Message,
    event: Event,
    mapping: AdtMapping,
) -> list[str]:
    zone = ZoneInfo(mapping.timezone)
    reading = engine.Reading(event.code, zone, datetime.datetime.now(zone).date())
    patient_changes = engine.read_changes(message, mapping.patient, reading)
    stay_changes = engine.read_changes(message, mapping.encounter, reading)
    order = {system: n for n, system in enumerate(mapping.patient.match)}
    keys = sorted(
        (i for i in _identifiers(patient_changes) if i.get("system") in order),
        key=lambda i: order[i["system"]],
    )
    if not keys:
        raise MessageProblem.error(
            "PID",
            3,
            "101",
            "PID-3 holds no personnummer or samordningsnummer (by assigning authority OID"
            " 1.2.752.129.2.1.3.1 / 1.2.752.129.2.1.3.3 or type NNSWE): the patient cannot be"
            " identified",
        )
    visits = _identifiers(stay_changes)
    if not visits and event.encounter != "if-known":
        raise MessageProblem.error("PV1", 19, "101", "PV1-19 (visit number) is required")

    async def job(tx: Transaction) -> list[str]:
        stay = await _one(tx, "Encounter", visits[0], "PV1-19") if visits else None
        if stay is None and event.encounter == "existing":
            number = visits[0].get("value")
            raise MessageProblem.error(
                "PV1",
                19,
                "204",
                f"No stay has the visit number {number} (PV1-19): {event.code} ({event.name})"
                " needs an admitted stay",
            )
        patient: Resource | None = None
        for key in keys:
            patient = await _one(tx, "Patient", key, "PID-3")
            if patient is not None:
                break
        if patient is None and event.patient == "match":
            raise MessageProblem.error(
                "PID", 3, "204", f"No patient has the identifier {keys[0].get('value')} (PID-3)"
            )
        subject = f"Patient/{patient['id']}" if patient is not None else None
        written: list[str] = []
        if event.patient == "upsert":
            existing = patient is not None
            resource: Resource = patient if patient is not None else {"resourceType": "Patient"}
            _with_profile(resource, mapping.patient.profile)
            engine.apply_changes(resource, patient_changes)
            engine.apply_defaults(resource, mapping.patient, event.code)
            resource = _checked(runtime, resource, mapping.patient)
            version = await _store(tx, "Patient", resource, existing)
            written += _history(version)
            subject = f"Patient/{resource['id']}"
        if stay is None and event.encounter != "upsert":
            return written
        owner = stay.get("subject", {}).get("reference") if stay is not None else subject
        if owner != subject:
            raise MessageProblem.error(
                "PV1",
                19,
                "204",
                f"The stay with visit number {visits[0].get('value')} (PV1-19) belongs to"
                f" {owner}, not to the patient of PID-3 ({subject})",
            )
        existing = stay is not None
        encounter: Resource = stay if stay is not None else {"resourceType": "Encounter"}
        _with_profile(encounter, mapping.encounter.profile)
        engine.apply_changes(encounter, await _resolved(tx, stay_changes))
        engine.apply_defaults(encounter, mapping.encounter, event.code)
        for path in event.remove:
            engine.delete_path(encounter, path)
        status_before = encounter.get("status")
        if event.status is not None:
            encounter["status"] = event.status
        if encounter.get("status") != status_before:
            _without_derived_state(encounter)  # it followed the old status
        assert subject is not None  # "upsert" stored the Patient, "match" found it
        encounter["subject"] = {"reference": subject}
        encounter = _checked(runtime, encounter, mapping.encounter)
        version = await _store(tx, "Encounter", encounter, existing)
        return written + _history(version)

    async def undone_on_problem(tx: Transaction) -> list[str]:
        try:
            return await job(tx)
        except MessageProblem as problem:
            # what the audit trail records of a refused message: where, not the text
            what = f"HL7 v2 {problem.ack_code} {problem.error_code} at {problem.location}"
            raise _Undone(422, [Issue("error", "processing", what)], problem=problem) from None

    try:
        return await runtime.storage.run(context, undone_on_problem)
    except _Undone as undone:
        assert undone.problem is not None
        raise undone.problem from None


def _without_derived_state(encounter: Resource) -> None:
    extensions = [e for e in encounter.get("extension", []) if e.get("url") != STATE_EXTENSION]
    if extensions:
        encounter["extension"] = extensions
    else:
        encounter.pop("extension", None)
