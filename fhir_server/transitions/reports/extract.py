"""The stays a report covers, read from the store as it was at an instant (`as_of`).

A report is reproducible: it reads every resource in the version that was current at
`as_of`, so writes after it (a late notice, a corrected discharge time, a deletion) do not
change a rerun with the same parameters. Current matches stored at or before `as_of` are
taken as they are; every resource of the type changed after it (type history since
`as_of`) is replaced by its version at `as_of`, or left out when it did not exist then; each
is then checked again in memory, since its old version may match where its current one does
not.

What the caller may see is what the storage port shows it (the organisation policy of the
access layer): a municipality's report covers the stays it has a care relation to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from fhir_server import fhirjson
from fhir_server.storage.clock import format_instant, parse_instant
from fhir_server.storage.port import RequestContext, Storage, StoredVersion
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import instant, swedish_date
from fhir_server.transitions.reports.stays import Notice, SipCall, Stay

_PAGE = 500
_BATCH = 40  # references per OR-search


class Snapshot:
    """Reads of one store as it was at `as_of`."""

    def __init__(self, storage: Storage, ctx: RequestContext, as_of: datetime) -> None:
        self.storage = storage
        self.ctx = ctx
        self.as_of = format_instant(as_of)
        self._changed: dict[str, set[str]] = {}
        self._old: dict[tuple[str, str], dict[str, Any] | None] = {}

    async def _changed_since(self, resource_type: str) -> set[str]:
        """Ids of the type with a version (or deletion) stored after `as_of`."""
        if resource_type not in self._changed:
            ids: set[str] = set()
            cursor = None
            while True:
                page = await self.storage.history(
                    self.ctx,
                    resource_type,
                    None,
                    since=self.as_of,
                    at=None,
                    count=_PAGE,
                    cursor=cursor,
                )
                ids.update(v.id for v in page.versions if v.last_updated > self.as_of)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            self._changed[resource_type] = ids
        return self._changed[resource_type]

    async def at(self, resource_type: str, rid: str) -> dict[str, Any] | None:
        """The resource in its version current at `as_of`; None if none was (or a deletion).
        Read once per snapshot."""
        key = (resource_type, rid)
        if key not in self._old:
            page = await self.storage.history(
                self.ctx, resource_type, rid, since=None, at=self.as_of, count=1, cursor=None
            )
            self._old[key] = _resource(page.versions[0]) if page.versions else None
        return self._old[key]

    async def find(
        self,
        resource_type: str,
        criteria: list[tuple[str, str]],
        keep: Callable[[dict[str, Any]], bool],
    ) -> list[dict[str, Any]]:
        """The resources of the type that match `keep` at `as_of`; `criteria` only narrow
        the current candidates (a search of today's store), `keep` decides."""
        changed = await self._changed_since(resource_type)
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            result = await self.storage.search(
                self.ctx, resource_type, criteria, count=_PAGE, cursor=cursor, total=False
            )
            for version in result.versions:
                if version.id not in changed and version.last_updated <= self.as_of:
                    resource = _resource(version)
                    if resource is not None:
                        found[version.id] = resource
            if result.next_cursor is None:
                break
            cursor = result.next_cursor
        for rid in sorted(changed):
            old = await self.at(resource_type, rid)
            if old is not None:
                found[rid] = old
        return [r for _, r in sorted(found.items()) if keep(r)]


async def newest_change(storage: Storage) -> datetime | None:
    """When the newest stored change was stamped (None for an empty store). A report as of
    it covers every change that is visible now, and none that is still being committed
    (those are stamped later), so a rerun as of the same instant finds the same store."""
    page = await storage.history(
        RequestContext(), None, None, since=None, at=None, count=1, cursor=None
    )
    return parse_instant(page.versions[0].last_updated) if page.versions else None


def _resource(version: StoredVersion) -> dict[str, Any] | None:
    if version.deleted or version.data is None:
        return None
    value: dict[str, Any] = fhirjson.loads(version.data)
    return value


def _coded(concepts: Any, system: str) -> str | None:
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding", []):
            if coding.get("system") == system and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return None


def _reference(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return instant(text)
    except ValueError:
        return None


def _stay_references(resource: dict[str, Any]) -> set[str]:
    refs = {_reference(resource.get("encounter"))}
    refs.update(_reference(about) for about in resource.get("about", []))
    return {r for r in refs if r is not None}


def _kommunkod_of_address(address: Any) -> str | None:
    if not isinstance(address, dict):
        return None
    for extension in address.get("extension", []):
        if extension.get("url") == c.KOMMUNKOD_EXTENSION:
            coding = extension.get("valueCoding", {})
            if coding.get("system") == c.KOMMUNKOD and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return None


async def _kommun(
    snapshot: Snapshot, notices: list[dict[str, Any]], organisations: dict[str, str | None]
) -> str:
    """The patient's municipality: the kommunkod of the registered address on the latest
    inskrivningsmeddelande, else the municipality among the notices' recipients."""
    dated = sorted(
        (n for n in notices if n.get("status") != "entered-in-error"),
        key=lambda n: str(n.get("sent", "")),
        reverse=True,
    )
    for notice in dated:
        if _coded(notice.get("category", []), c.NOTICE_TYPE) != c.INSKRIVNINGSMEDDELANDE:
            continue
        for extension in notice.get("extension", []):
            if extension.get("url") == c.REGISTERED_ADDRESS_EXTENSION:
                code = _kommunkod_of_address(extension.get("valueAddress"))
                if code:
                    return code
    for notice in dated:
        for recipient in notice.get("recipient", []):
            identifier = recipient.get("identifier") if isinstance(recipient, dict) else None
            if isinstance(identifier, dict) and identifier.get("system") == c.KOMMUNKOD:
                return str(identifier.get("value", ""))
            ref = _reference(recipient)
            if ref is None or not ref.startswith("Organization/"):
                continue
            if ref not in organisations:
                organisations[ref] = await _organisation_kommunkod(snapshot, ref)
            if organisations[ref]:
                return organisations[ref] or ""
    return ""


async def _organisation_kommunkod(snapshot: Snapshot, ref: str) -> str | None:
    organisation = await snapshot.at("Organization", ref.split("/", 1)[1])
    if organisation is None:
        return None
    for identifier in organisation.get("identifier", []):
        if identifier.get("system") == c.KOMMUNKOD and isinstance(identifier.get("value"), str):
            return str(identifier["value"])
    return None


def _discharge(encounter: dict[str, Any], notices: list[Notice]) -> datetime | None:
    """Encounter.period.end of a finished stay, else the first utskrivningsmeddelande."""
    end = _when(encounter.get("period", {}).get("end"))
    if end is not None and encounter.get("status") == "finished":
        return end
    discharges = [n.sent for n in notices if n.code == c.UTSKRIVNINGSMEDDELANDE and not n.retracted]
    return min(discharges) if discharges else None


def _notice(resource: dict[str, Any]) -> Notice | None:
    code = _coded(resource.get("category", []), c.NOTICE_TYPE)
    sent = _when(resource.get("sent"))
    if code is None or sent is None:
        return None
    retracted = resource.get("status") == "entered-in-error"
    return Notice(f"Communication/{resource.get('id')}", code, sent, retracted)


def _sip_call(resource: dict[str, Any]) -> SipCall:
    deadline = _when(resource.get("restriction", {}).get("period", {}).get("end"))
    done = None
    if resource.get("status") == "completed":
        done = _when(resource.get("executionPeriod", {}).get("end")) or _when(
            resource.get("lastModified")
        )
    return SipCall(f"Task/{resource.get('id')}", str(resource.get("status")), deadline, done)


def _batches(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


async def discharged_stays(
    snapshot: Snapshot, first: date, last: date, kommun: str | None
) -> list[Stay]:
    """The inpatient stays discharged from `first` to `last` (Swedish dates, inclusive), of
    the municipality `kommun` (kommunkod) or of all."""

    def inpatient(resource: dict[str, Any]) -> bool:
        klass = resource.get("class", {})
        return (
            isinstance(klass, dict)
            and klass.get("code") == "IMP"
            and resource.get("status") != "entered-in-error"
        )

    # candidates: stays still running near the period's start (their end, if any, after
    # it); a margin of two days covers the difference between Swedish and UTC dates and how
    # `ge` treats a date's day; the discharge date decides in memory
    since, until = first - timedelta(days=2), last + timedelta(days=2)
    encounters = await snapshot.find(
        "Encounter",
        [("class", "IMP"), ("date", f"ge{since.isoformat()}"), ("date", f"le{until.isoformat()}")],
        inpatient,
    )
    refs = [f"Encounter/{e['id']}" for e in encounters]
    notices_by_stay: dict[str, list[dict[str, Any]]] = {r: [] for r in refs}
    for batch in _batches(refs):
        wanted = set(batch)
        by_id: dict[str, dict[str, Any]] = {}
        # a notice names its stay in `encounter`, `about` or both
        for parameter in ("encounter", "about"):
            for communication in await snapshot.find(
                "Communication",
                [(parameter, ",".join(batch))],
                lambda r, wanted=wanted: bool(_stay_references(r) & wanted),  # type: ignore[misc]
            ):
                by_id[str(communication["id"])] = communication
        for communication in by_id.values():
            for ref in _stay_references(communication) & wanted:
                notices_by_stay[ref].append(communication)
    stays: list[tuple[dict[str, Any], list[Notice], datetime]] = []
    for encounter, ref in zip(encounters, refs, strict=True):
        notices = [n for n in map(_notice, notices_by_stay[ref]) if n is not None]
        discharged = _discharge(encounter, notices)
        if discharged is not None and first <= swedish_date(discharged) <= last:
            stays.append((encounter, notices, discharged))
    sip_by_stay = await _sip_calls(snapshot, [e for e, _, _ in stays])
    organisations: dict[str, str | None] = {}
    found = []
    for encounter, notices, discharged in stays:
        ref = f"Encounter/{encounter['id']}"
        code = await _kommun(snapshot, notices_by_stay[ref], organisations)
        if kommun is not None and code != kommun:
            continue
        care = _coded(encounter.get("serviceType"), c.CARE_TYPE) or _coded(
            encounter.get("type", []), c.CARE_TYPE
        )
        found.append(
            Stay(
                ref,
                care or c.SOMATISK,
                code,
                discharged,
                tuple(notices),
                tuple(sip_by_stay.get(ref, [])),
            )
        )
    return found


async def _sip_calls(
    snapshot: Snapshot, encounters: list[dict[str, Any]]
) -> dict[str, list[SipCall]]:
    """The kalla-till-sip Tasks of the stays (Task has no encounter search parameter: by
    patient and code, then Task.encounter in memory)."""
    patients = sorted(
        {ref for e in encounters if (ref := _reference(e.get("subject"))) is not None}
    )
    stays = {f"Encounter/{e['id']}" for e in encounters}
    result: dict[str, list[SipCall]] = {}
    code = f"{c.TASK_TYPE}|{c.KALLA_TILL_SIP}"
    for batch in _batches(patients):
        tasks = await snapshot.find(
            "Task",
            [("code", code), ("patient", ",".join(batch))],
            lambda r: (
                _coded(r.get("code"), c.TASK_TYPE) == c.KALLA_TILL_SIP
                and _reference(r.get("encounter")) in stays
            ),
        )
        for task in tasks:
            ref = _reference(task.get("encounter"))
            assert ref is not None
            result.setdefault(ref, []).append(_sip_call(task))
    return result
