"""The server's reactions to what a job wrote, inside the same transaction (DOMAIN.md).

After a client's job (a create, an update, a whole transaction Bundle) and before its
commit, the workflow looks at the LUS resources the job wrote:
- a new notice (Communication with a lus-notice-type category) gets its receivers (an
  inskrivningsmeddelande: the addressed units, the patient's municipality by kommunkod and
  the primary-care unit where the patient is listed), the receivers' Tasks with deadlines,
  and completes the Tasks it fulfils (kvittens → kvittera, sip-kallelse → kalla-till-sip, …);
- a notice retracted (status entered-in-error) cancels the open Tasks it caused;
- every stay touched gets its state, estimated discharge and utskrivningsklar time again
  from its notices (stay_state.py); a notice that cannot follow the stay's state, or a
  client writing another state than the notices give, fails the whole job with 422.
Everything happens in the client's transaction: it is all stored, or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_server.outcome import FhirError, Issue, error
from fhir_server.storage.port import Transaction
from fhir_server.transitions import codes as c
from fhir_server.transitions import tasks
from fhir_server.transitions.checklist import Check, done_since
from fhir_server.transitions.clock import fhir_instant, instant
from fhir_server.transitions.parties import (
    hsa_id,
    is_municipality,
    is_primary_care,
    read,
    receivers,
)
from fhir_server.transitions.resources import (
    Resource,
    data_of,
    extension,
    notice_type,
    reference,
    references,
    set_extension,
    state_coding,
    stay_of,
    stay_state_code,
    task_type,
)
from fhir_server.transitions.rules import Region, WorkflowRules
from fhir_server.transitions.stay_state import (
    TRANSITIONS,
    IllegalStep,
    Notice,
    fold,
    sent_order,
    stay_state,
)

RETRACTED = "entered-in-error"
# notices the hospital sends to the receivers of the stay
HOSPITAL_NOTICES = frozenset(
    {
        c.INSKRIVNINGSMEDDELANDE,
        c.BERAKNAD_UTSKRIVNING_ANDRAD,
        c.PLANERINGSUNDERLAG,
        c.UTSKRIVNINGSKLAR,
        c.UTSKRIVNINGSKLAR_ATERKALLAD,
        c.UTSKRIVNINGSMEDDELANDE,
    }
)
# notices that need a stay that has not been discharged before
NEED_LIVE_STAY = HOSPITAL_NOTICES - {c.UTSKRIVNINGSMEDDELANDE}
# a receiver's notice → the Task of its sender it fulfils
FULFILS = {
    c.PLANERING_PABORJAD: c.PABORJA_PLANERING,
    c.FAST_VARDKONTAKT_UTSEDD: c.UTSE_FAST_VARDKONTAKT,
    c.SIP_KALLELSE: c.KALLA_TILL_SIP,
    c.PLANERINGSUNDERLAG: c.SKICKA_PLANERINGSUNDERLAG,
    c.INSKRIVNINGSMEDDELANDE: c.SKICKA_INSKRIVNINGSMEDDELANDE,
    c.UTSKRIVNINGSMEDDELANDE: c.SKICKA_UTSKRIVNINGSMEDDELANDE,
}


@dataclass
class Written:
    """One write of the client's job, with the version before it."""

    resource_type: str
    rid: str
    before: Resource | None
    after: Resource | None  # None: deleted
    client_state: str | None = None  # the lus-state an Encounter came with


def unprocessable(text: str, *expression: str) -> FhirError:
    return FhirError(422, [Issue("error", "business-rule", text, tuple(expression))])


def _sent(notice: Resource) -> str:
    sent = notice.get("sent")
    if not isinstance(sent, str):
        raise unprocessable(
            f"The LUS notice Communication/{notice.get('id')} has no 'sent': the time it was"
            " sent is the legal timestamp every clock counts from",
            "Communication.sent",
        )
    return sent


def _as_notice(notice: Resource) -> Notice:
    stored = str(notice.get("meta", {}).get("lastUpdated", ""))
    return Notice(f"Communication/{notice['id']}", str(notice_type(notice)), _sent(notice), stored)


def _in_sent_order(notices: list[Resource]) -> list[Resource]:
    by_ref = {f"Communication/{n['id']}": n for n in notices}
    return [by_ref[n.reference] for n in sent_order(_as_notice(n) for n in notices)]


def _running_clock(ordered: list[Resource]) -> Resource | None:
    """The utskrivningsklar notice whose clock runs (not withdrawn since), of the stay's
    notices in sent order."""
    clock = [
        n for n in ordered if notice_type(n) in (c.UTSKRIVNINGSKLAR, c.UTSKRIVNINGSKLAR_ATERKALLAD)
    ]
    return clock[-1] if clock and notice_type(clock[-1]) == c.UTSKRIVNINGSKLAR else None


def _estimate(resource: Resource) -> str | None:
    value = extension(resource, c.ESTIMATED_DISCHARGE_EXTENSION)
    return value if isinstance(value, str) else None


class Workflow:
    def __init__(self, rules: WorkflowRules) -> None:
        self.rules = rules

    # -- the job's writes ------------------------------------------------------------

    async def react(self, tx: Transaction, writes: list[Written]) -> None:
        stays: dict[str, Written | None] = {}
        for written in writes:
            if written.resource_type == "Encounter":
                stays[f"Encounter/{written.rid}"] = written
        for written in writes:
            if written.resource_type != "Communication" or written.after is None:
                continue
            code = notice_type(written.after)
            if code is None or code not in TRANSITIONS:
                continue
            stay = stay_of(written.after)
            if stay is None:
                raise unprocessable(
                    f"The LUS notice Communication/{written.rid} ({code}) names no stay:"
                    " Communication.encounter (or about) must reference the Encounter",
                    "Communication.encounter",
                )
            stays.setdefault(stay, None)
            before = written.before
            if before is None or notice_type(before) is None:
                if written.after.get("status") != RETRACTED:
                    await self._new_notice(tx, written.rid, code, stay, stays.get(stay))
            elif before.get("status") != RETRACTED and written.after.get("status") == RETRACTED:
                await self._retracted(tx, f"Communication/{written.rid}")
        for stay, stay_write in stays.items():
            await self.refresh_stay(tx, stay, stay_write)

    # -- notices ---------------------------------------------------------------------

    async def _new_notice(
        self, tx: Transaction, rid: str, code: str, stay: str, stay_write: Written | None
    ) -> None:
        notice = data_of(await tx.read("Communication", rid))
        if notice is None:
            return
        ref = f"Communication/{rid}"
        sent = _sent(notice)
        encounter = await read(tx, stay)
        if encounter is None:
            raise unprocessable(
                f"The LUS notice {ref} is about {stay}, which does not exist",
                "Communication.encounter",
            )
        if code in NEED_LIVE_STAY and self._discharged_before(encounter, stay_write):
            raise unprocessable(
                f"The stay {stay} is discharged (Encounter.status finished): a notice"
                f" '{code}' cannot follow",
                "Communication.category",
            )
        patient_ref = reference(notice.get("subject")) or reference(encounter.get("subject"))
        if patient_ref is None:
            raise unprocessable(f"The LUS notice {ref} names no patient", "Communication.subject")
        sender = reference(notice.get("sender"))
        region = await self._region(tx, sender, encounter)
        recipients = await self._receivers(tx, notice, code, stay, patient_ref)
        due_from = instant(sent)

        def task(
            task_code: str, owner: str, due: datetime, requester: str | None, text: str
        ) -> Resource:
            return tasks.new_task(
                task_code,
                owner=owner,
                requester=requester,
                patient=patient_ref,
                stay=stay,
                # an obligation once per stay is about the stay, the others about the notice
                focus=stay if task_code in tasks.ONCE_PER_STAY - {c.PABORJA_PLANERING} else ref,
                authored=sent,
                due=due,
                description=text,
            )

        if code in self.rules.acknowledged:
            rule = self.rules.deadline(c.KVITTERA, region)
            due = rule.due(due_from) if rule else None
            for owner in recipients:
                if due is not None:
                    text = f"Kvittera {code} för vårdtillfället"
                    await tasks.ensure(tx, task(c.KVITTERA, owner, due, sender, text))
        if code == c.INSKRIVNINGSMEDDELANDE:
            await self._after_admission_notice(tx, notice, recipients, region, sender, task)
        elif code == c.UTSKRIVNINGSKLAR:
            await self._after_utskrivningsklar(tx, stay, recipients, region, sender, due_from, task)
        elif code == c.UTSKRIVNINGSKLAR_ATERKALLAD:
            for open_task in await tasks.find(tx, c.KALLA_TILL_SIP, stay=stay, open_only=True):
                await tasks.cancel(tx, open_task, "Utskrivningsklar återkallad")
        if code in FULFILS:
            await self._fulfil(tx, FULFILS[code], stay, sender, sent, ref, code in HOSPITAL_NOTICES)
        if code == c.KVITTENS and sender is not None:
            for acknowledged in references(notice.get("inResponseTo", []), "Communication"):
                for open_task in await tasks.find(
                    tx, c.KVITTERA, focus=acknowledged, owner=sender, open_only=True
                ):
                    await tasks.complete(tx, open_task, sent, ref)

    async def _after_admission_notice(
        self,
        tx: Transaction,
        notice: Resource,
        recipients: list[str],
        region: Region | None,
        sender: str | None,
        task: Any,
    ) -> None:
        due_from = instant(_sent(notice))
        planning = self.rules.deadline(c.PABORJA_PLANERING, region)
        estimate = _estimate(notice)
        for owner in recipients:
            if planning is not None and (due := planning.due(due_from)) is not None:
                text = "Påbörja planeringen av insatser efter utskrivning"
                await tasks.ensure(tx, task(c.PABORJA_PLANERING, owner, due, sender, text))
            if estimate is not None and is_primary_care(await read(tx, owner)):
                text = "Utse fast vårdkontakt före utskrivning"
                await tasks.ensure(
                    tx, task(c.UTSE_FAST_VARDKONTAKT, owner, instant(estimate), sender, text)
                )
        basis = self.rules.deadline(c.SKICKA_PLANERINGSUNDERLAG, region)
        if sender is not None and basis is not None and (due := basis.due(due_from)):
            text = "Skicka planeringsunderlag till kommun och primärvård"
            await tasks.ensure(tx, task(c.SKICKA_PLANERINGSUNDERLAG, sender, due, None, text))

    async def _after_utskrivningsklar(
        self,
        tx: Transaction,
        stay: str,
        recipients: list[str],
        region: Region | None,
        sender: str | None,
        due_from: datetime,
        task: Any,
    ) -> None:
        """Kalla till SIP, for the primary-care receivers, when the patient needs help from
        both region and municipality: the stay's notices go to both."""
        units = [await read(tx, ref) for ref in recipients]
        if not any(is_municipality(u) for u in units):
            return
        rule = self.rules.deadline(c.KALLA_TILL_SIP, region)
        due = rule.due(due_from) if rule else None
        if due is None:
            return
        for owner, unit in zip(recipients, units, strict=True):
            if is_primary_care(unit):
                text = "Kalla till samordnad individuell plan (SIP) inom 3 dagar"
                await tasks.ensure(tx, task(c.KALLA_TILL_SIP, owner, due, sender, text))

    async def _fulfil(
        self,
        tx: Transaction,
        task_code: str,
        stay: str,
        sender: str | None,
        sent: str,
        ref: str,
        hospital: bool,
    ) -> None:
        # a hospital's own tasks are done by whoever sends for the ward; a receiver's by it
        owner = None if hospital else sender
        if owner is None and not hospital:
            return
        for open_task in await tasks.find(tx, task_code, stay=stay, owner=owner, open_only=True):
            await tasks.complete(tx, open_task, sent, ref)

    async def _receivers(
        self, tx: Transaction, notice: Resource, code: str, stay: str, patient_ref: str
    ) -> list[str]:
        """The notice's receivers, with the recipients the law adds written onto it."""
        addressed = references(notice.get("recipient", []), "Organization")
        if code == c.INSKRIVNINGSMEDDELANDE:
            found = await receivers(tx, notice, await read(tx, patient_ref))
        elif code in HOSPITAL_NOTICES and not addressed:
            found = await self.stay_receivers(tx, stay)
        else:
            return addressed
        if found != addressed:
            extra = [{"reference": ref} for ref in found if ref not in addressed]
            notice["recipient"] = list(notice.get("recipient", [])) + extra
            await tx.write("Communication", notice["id"], notice, "PUT")
        return found

    async def stay_receivers(self, tx: Transaction, stay: str) -> list[str]:
        found: list[str] = []
        for notice in await self.notices(tx, stay):
            if notice_type(notice) == c.INSKRIVNINGSMEDDELANDE:
                found.extend(references(notice.get("recipient", []), "Organization"))
        return list(dict.fromkeys(found))

    async def _retracted(self, tx: Transaction, ref: str) -> None:
        """Makulering: the open Tasks the notice caused are cancelled; the receivers learn of
        the retraction through the notice itself (its new status reaches their subscriptions)."""
        for task in await tasks.on(tx, focus=ref):
            await tasks.cancel(tx, task, "Meddelandet makulerat")

    # -- the stay --------------------------------------------------------------------

    async def notices(self, tx: Transaction, stay: str) -> list[Resource]:
        """The stay's LUS notices that count (not retracted), by id."""
        found: dict[str, Resource] = {}
        for param in ("encounter", "about"):
            for version in await tx.find("Communication", [(param, stay)]):
                notice = data_of(version)
                if notice is not None and notice_type(notice) is not None:
                    found[notice["id"]] = notice
        return [n for n in found.values() if n.get("status") != RETRACTED]

    async def refresh_stay(self, tx: Transaction, stay: str, written: Written | None) -> None:
        encounter = await read(tx, stay)
        if encounter is None:
            return
        valid = [n for n in await self.notices(tx, stay) if notice_type(n) in TRANSITIONS]
        if not valid and stay_state_code(encounter) is None:
            return  # not a LUS stay: no notice, no state
        by_ref = {f"Communication/{n['id']}": n for n in valid}
        steps_of = [_as_notice(n) for n in by_ref.values()]
        try:
            _, steps = fold(steps_of)
        except IllegalStep as illegal:
            raise unprocessable(str(illegal), "Communication.category") from None
        ordered = [by_ref[s.notice.reference] for s in steps]
        changed = self._discharge_from_notices(encounter, ordered)
        complete = await self.checklist_complete(tx, encounter, ordered)
        state = stay_state(steps_of, encounter.get("status"), checklist_complete=complete)
        # a client sending back the state it read is fine (the server sets it again);
        # one setting another state than the notices give is refused
        previous = stay_state_code(written.before or {}) if written is not None else None
        if written is not None and written.client_state not in (None, state, previous):
            raise unprocessable(
                f"{stay} cannot have the LUS state '{written.client_state}': the state follows"
                f" the stay's notices, which give '{state}' (send the notice instead)",
                "Encounter.extension",
            )
        changed |= self._set_state(encounter, state, ordered)
        if changed:
            await tx.write("Encounter", encounter["id"], encounter, "PUT")
        await self._stay_tasks(tx, stay, encounter, state, ordered)

    def _discharge_from_notices(self, encounter: Resource, ordered: list[Resource]) -> bool:
        """An utskrivningsmeddelande finishes an Encounter still in progress (period.end: its
        sent time); a discharge the ward recorded itself (finished) stays as it is."""
        discharges = [n for n in ordered if notice_type(n) == c.UTSKRIVNINGSMEDDELANDE]
        if not discharges or encounter.get("status") in ("finished", RETRACTED):
            return False
        # an end on a stay still in progress was a planned one: the notice says when
        encounter["status"] = "finished"
        encounter.setdefault("period", {})["end"] = _sent(discharges[0])
        return True

    def _set_state(self, encounter: Resource, state: str, ordered: list[Resource]) -> bool:
        before = (
            stay_state_code(encounter),
            _estimate(encounter),
            extension(encounter, c.UTSKRIVNINGSKLAR_EXTENSION),
        )
        set_extension(encounter, c.STATE_EXTENSION, "Coding", state_coding(state))
        estimates = [n for n in ordered if _estimate(n) is not None]
        if estimates:
            set_extension(
                encounter, c.ESTIMATED_DISCHARGE_EXTENSION, "DateTime", _estimate(estimates[-1])
            )
        running = _running_clock(ordered)
        value = _sent(running) if running is not None else None
        kind = "DateTime" if value else None
        set_extension(encounter, c.UTSKRIVNINGSKLAR_EXTENSION, kind, value)
        after = (
            stay_state_code(encounter),
            _estimate(encounter),
            extension(encounter, c.UTSKRIVNINGSKLAR_EXTENSION),
        )
        return before != after

    async def _stay_tasks(
        self, tx: Transaction, stay: str, encounter: Resource, state: str, ordered: list[Resource]
    ) -> None:
        if state in (c.MAKULERAD, c.INSKRIVEN):
            # a stay in error, or whose every inskrivningsmeddelande was retracted
            reason = "Vårdtillfället makulerat" if state == c.MAKULERAD else "Ingen inskrivning"
            for task in await tasks.on(tx, stay=stay):
                if task_type(task) != c.SKICKA_INSKRIVNINGSMEDDELANDE:
                    await tasks.cancel(tx, task, reason)
            return
        discharged = encounter.get("period", {}).get("end") if state == c.UTSKRIVEN else None
        estimate = _estimate(encounter)
        due_text = min((t for t in (estimate, discharged) if t), key=instant, default=None)
        if due_text is not None:
            for task in await tasks.find(tx, c.UTSE_FAST_VARDKONTAKT, stay=stay, open_only=True):
                await tasks.move_deadline(tx, task, instant(due_text))
        codes = {notice_type(n) for n in ordered}
        if state == c.UTSKRIVEN and isinstance(discharged, str):
            ward = reference(encounter.get("serviceProvider"))
            rule = self.rules.deadline(
                c.SKICKA_UTSKRIVNINGSMEDDELANDE, await self._region(tx, ward, encounter)
            )
            due = rule.due(instant(discharged)) if rule else None
            needed = c.INSKRIVNINGSMEDDELANDE in codes and c.UTSKRIVNINGSMEDDELANDE not in codes
            patient = reference(encounter.get("subject"))
            if needed and ward and patient and due is not None:
                await tasks.ensure(
                    tx,
                    tasks.new_task(
                        c.SKICKA_UTSKRIVNINGSMEDDELANDE,
                        owner=ward,
                        requester=None,
                        patient=patient,
                        stay=stay,
                        focus=stay,
                        authored=fhir_instant(instant(discharged)),
                        due=due,
                        description="Skicka utskrivningsmeddelande senast utskrivningsdagen",
                    ),
                )
        elif state != c.UTSKRIVEN:
            for task in await tasks.find(
                tx, c.SKICKA_UTSKRIVNINGSMEDDELANDE, stay=stay, open_only=True
            ):
                await tasks.cancel(tx, task, "Utskrivningen hävd")

    # -- hemgångsklar ------------------------------------------------------------------

    async def checklist(
        self, tx: Transaction, encounter: Resource, ordered: list[Resource] | None = None
    ) -> tuple[Region | None, dict[str, Check | None]]:
        """The stay's region and each item of its checklist with the check that did it
        since the running utskrivningsklar clock started (None: not done)."""
        region = await self._region(tx, None, encounter)
        if ordered is None:
            stay = f"Encounter/{encounter['id']}"
            valid = [n for n in await self.notices(tx, stay) if notice_type(n) in TRANSITIONS]
            ordered = _in_sent_order(valid)
        running = _running_clock(ordered)
        start = instant(_sent(running)) if running is not None else None
        return region, done_since(encounter, self.rules.checklist_of(region), start)

    async def checklist_complete(
        self, tx: Transaction, encounter: Resource, ordered: list[Resource]
    ) -> bool:
        _, done = await self.checklist(tx, encounter, ordered)
        return bool(done) and all(check is not None for check in done.values())

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _discharged_before(encounter: Resource, written: Written | None) -> bool:
        if written is not None:
            before = written.before
            return before is not None and before.get("status") == "finished"
        return encounter.get("status") == "finished"

    async def _region(
        self, tx: Transaction, unit: str | None, encounter: Resource
    ) -> Region | None:
        for ref in (unit, reference(encounter.get("serviceProvider"))):
            region = self.rules.region_of(hsa_id(await read(tx, ref)))
            if region is not None:
                return region
        return None

    async def derived_state(self, tx: Transaction, stay: str, encounter: Resource) -> str:
        """The state an Encounter being written gets now (refresh_stay confirms it at the
        job's end, when the job's notices are in)."""
        notices = [n for n in await self.notices(tx, stay) if notice_type(n) in TRANSITIONS]
        steps = [_as_notice(n) for n in notices]
        ordered = _in_sent_order(notices)
        try:
            complete = await self.checklist_complete(tx, encounter, ordered)
            return stay_state(steps, encounter.get("status"), checklist_complete=complete)
        except IllegalStep:
            return c.INSKRIVEN


def refuse_notice_delete(ref: str) -> FhirError:
    return error(
        405,
        "business-rule",
        f"{ref} is a LUS notice: notices are never deleted; retract it with status"
        " entered-in-error (makulering)",
    )
