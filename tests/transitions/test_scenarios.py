"""Scenarios of whole stays over HTTP against a real server process, with real subscription
receivers (HTTP servers on 127.0.0.1) for a municipality, a primary-care unit, another
county's municipality and the hospital ward: every party receives exactly its notices and
Tasks (issue 7, "What must be shown")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fhirpy import SyncFHIRClient

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import fhir_instant
from tests.subscriptions.receiver import Receiver, receiver
from tests.subscriptions.topics import subscription
from tests.support import lus
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e

WARD = "Organization/ward"
KOMMUN = "Organization/kalmar-kommun"
VC = "Organization/vc-centrum"
GOTEBORG = "Organization/goteborg"
TOPIC = f"{CANONICAL_BASE}/SubscriptionTopic"


@dataclass
class Party:
    ref: str
    inbox: Receiver

    def resources(self, resource_type: str, stay: str) -> list[dict[str, Any]]:
        """Every version of the stay's resources of a type this party was notified of."""
        found = []
        for bundle in self.inbox.bundles():
            for entry in bundle.get("entry", [])[1:]:
                resource = entry.get("resource", {})
                if resource.get("resourceType") != resource_type:
                    continue
                about = resource.get("encounter", {}).get("reference")
                if about == stay:
                    found.append(resource)
        return found

    def latest(self, resource_type: str, stay: str) -> dict[str, dict[str, Any]]:
        """id → the latest version notified."""
        out: dict[str, dict[str, Any]] = {}
        for resource in self.resources(resource_type, stay):
            seen = out.get(resource["id"])
            if seen is None or int(resource["meta"]["versionId"]) > int(seen["meta"]["versionId"]):
                out[resource["id"]] = resource
        return out

    def notices(self, stay: str) -> list[tuple[str, str]]:
        """(notice type, status) of each distinct notice version received, in order."""
        seen: dict[tuple[str, str], tuple[str, str]] = {}
        for notice in self.resources("Communication", stay):
            key = (notice["id"], notice["meta"]["versionId"])
            code = notice["category"][0]["coding"][0]["code"]
            seen.setdefault(key, (code, notice["status"]))
        return list(seen.values())

    def tasks(self, stay: str) -> set[tuple[str, str]]:
        return {
            (t["code"]["coding"][0]["code"], t["status"])
            for t in self.latest("Task", stay).values()
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with receiver() as kommun, receiver() as vc, receiver() as goteborg, receiver() as ward:
        server = ServerProcess(
            tmp_path_factory.mktemp("lus-server"),
            FHIR_SERVER_SUBSCRIPTION_ENDPOINT_HOSTS='["127.0.0.1"]',
            FHIR_SERVER_SUBSCRIPTION_RETRY_BASE="0.05",
            FHIR_SERVER_SUBSCRIPTION_RETRY_MAX="0.5",
            FHIR_SERVER_LUS_CLOCK_INTERVAL="0.3",
        ).start()
        try:
            http = httpx.Client(base_url=server.base, timeout=30)
            parties = lus.transaction(
                lus.organization("ward", "slutenvard", hsa_id="SE2321000081-S000000012345"),
                lus.organization("kalmar-kommun", "kommun", kommunkod="0880"),
                lus.organization("goteborg", "kommun", kommunkod="1480"),
                lus.organization("vc-centrum", "primarvard", hsa_id="SE2321000081-P00000006789"),
            )
            assert http.post("/", json=parties).status_code == 200
            subscriptions = [
                (kommun, "notice", f"Communication?recipient={KOMMUN}"),
                (kommun, "task", f"Task?owner={KOMMUN}"),
                (vc, "notice", f"Communication?recipient={VC}"),
                (vc, "task", f"Task?owner={VC}"),
                (goteborg, "notice", f"Communication?recipient={GOTEBORG}"),
                (goteborg, "task", f"Task?owner={GOTEBORG}"),
                (ward, "task-overdue", f"Task?requester={WARD}"),
            ]
            for inbox, topic, flt in subscriptions:
                body = subscription(
                    f"{TOPIC}/{topic}", inbox.url, content="full-resource", filters=(flt,)
                )
                answer = http.post("/Subscription", json=body)
                assert answer.status_code == 201, answer.text
            for inbox in (kommun, vc, goteborg, ward):  # every handshake arrived
                inbox.wait_for(lambda r: len(r.bundles()) >= 1, what="handshake")
            yield {
                "http": http,
                "server": server,
                "kommun": Party(KOMMUN, kommun),
                "vc": Party(VC, vc),
                "goteborg": Party(GOTEBORG, goteborg),
                "ward": Party(WARD, ward),
            }
        finally:
            server.stop()


def _now(hours: float = 0) -> str:
    return fhir_instant(datetime.now(UTC) + timedelta(hours=hours))


def _admit(
    world: dict[str, Any],
    name: str,
    *,
    kommunkod: str = "0880",
    hours_ago: float = 1,
    listed: bool = True,
) -> str:
    """A patient admitted and announced: the ward's transaction (Patient, Encounter, the
    inskrivningsmeddelande, receivers left to the server). The stay's reference."""
    pnr = {
        "a": "191212121212",
        "b": "194107086987",
        "c": "195001012383",
        "d": "198112189876",
        "e": "200001012384",
    }[name]
    sent = _now(-hours_ago)
    bundle = lus.transaction(
        lus.patient(f"p-{name}", pnr, kommunkod=kommunkod, listed_at=VC if listed else None),
        lus.encounter(f"stay-{name}", f"Patient/p-{name}", ward=WARD, start=_now(-hours_ago - 2)),
        lus.notice(
            c.INSKRIVNINGSMEDDELANDE,
            f"Encounter/stay-{name}",
            sent,
            patient=f"Patient/p-{name}",
            sender=WARD,
            estimated=_now(72),
            kommunkod=kommunkod,
        ),
    )
    answer = world["http"].post("/", json=bundle)
    assert answer.status_code == 200, answer.text
    return f"Encounter/stay-{name}"


def _send(
    world: dict[str, Any],
    code: str,
    stay: str,
    *,
    sent: str | None = None,
    sender: str = WARD,
    **extra: Any,
) -> dict[str, Any]:
    patient = "Patient/p-" + stay.rsplit("-", 1)[1]
    body = lus.notice(code, stay, sent or _now(), patient=patient, sender=sender, **extra)
    answer = world["http"].post("/Communication", json=body)
    assert answer.status_code == 201, answer.text
    notice: dict[str, Any] = answer.json()
    return notice


def _state(world: dict[str, Any], stay: str) -> str:
    encounter = world["http"].get(f"/{stay}").json()
    return next(
        e["valueCoding"]["code"] for e in encounter["extension"] if e["url"].endswith("lus-state")
    )


def _settle(*parties: Party, seconds: float = 1.0) -> None:
    """Let deliveries in flight arrive (the checks after it are exact sets)."""
    time.sleep(seconds)
    del parties


def test_a_complete_stay(world: dict[str, Any]) -> None:
    kommun, vc, goteborg = world["kommun"], world["vc"], world["goteborg"]
    stay = _admit(world, "a")
    notice = world["http"].get(f"/Communication?encounter={stay}").json()["entry"][0]["resource"]
    first = f"Communication/{notice['id']}"
    for party in (kommun, vc):
        party.inbox.wait_for(lambda r, p=party: p.notices(stay), what="inskrivningsmeddelande")
        _send(world, c.KVITTENS, stay, sender=party.ref, recipients=(WARD,), in_response_to=first)
    _send(world, c.PLANERING_PABORJAD, stay, sender=KOMMUN, recipients=(WARD,))
    _send(world, c.PLANERING_PABORJAD, stay, sender=VC, recipients=(WARD,))
    _send(world, c.FAST_VARDKONTAKT_UTSEDD, stay, sender=VC, recipients=(WARD, KOMMUN))
    ready = _send(world, c.UTSKRIVNINGSKLAR, stay)
    vc.inbox.wait_for(lambda r: (c.KALLA_TILL_SIP, "requested") in vc.tasks(stay), what="SIP")
    _send(world, c.SIP_KALLELSE, stay, sender=VC, recipients=(KOMMUN, WARD))
    checks = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "item", "valueCode": item}
            for item in (
                "patient-informerad",
                "nasta-vardgivare-informerad",
                "hjalpmedel-pa-plats",
                "lakemedel-tillgangliga",
            )
        ],
    }
    assert world["http"].post(f"/{stay}/$hemgangsklar", json=checks).status_code == 200
    assert _state(world, stay) == c.HEMGANGSKLAR
    _send(world, c.UTSKRIVNINGSMEDDELANDE, stay)
    assert _state(world, stay) == c.UTSKRIVEN
    for party in (kommun, vc):
        party.inbox.wait_for(
            lambda r, p=party: (c.UTSKRIVNINGSMEDDELANDE, "completed") in p.notices(stay),
            what="utskrivningsmeddelande",
        )
    _settle(kommun, vc)
    hospital_notices = [
        (c.INSKRIVNINGSMEDDELANDE, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
        (c.UTSKRIVNINGSMEDDELANDE, "completed"),
    ]
    # the municipality also gets what the unit addressed to it
    assert kommun.notices(stay) == [
        (c.INSKRIVNINGSMEDDELANDE, "completed"),
        (c.FAST_VARDKONTAKT_UTSEDD, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
        (c.SIP_KALLELSE, "completed"),
        (c.UTSKRIVNINGSMEDDELANDE, "completed"),
    ]
    assert vc.notices(stay) == hospital_notices
    assert kommun.tasks(stay) == {
        (c.KVITTERA, "completed"),
        (c.KVITTERA, "requested"),
        (c.PABORJA_PLANERING, "completed"),
    }
    assert vc.tasks(stay) == {
        (c.KVITTERA, "completed"),
        (c.KVITTERA, "requested"),
        (c.PABORJA_PLANERING, "completed"),
        (c.UTSE_FAST_VARDKONTAKT, "completed"),
        (c.KALLA_TILL_SIP, "completed"),
    }
    sip = next(
        t
        for t in vc.latest("Task", stay).values()
        if t["code"]["coding"][0]["code"] == c.KALLA_TILL_SIP
    )
    assert sip["focus"]["reference"] == f"Communication/{ready['id']}"
    assert goteborg.notices(stay) == [] and goteborg.tasks(stay) == set()
    # a municipality's system reads its worklist with a FHIR client
    fhir = SyncFHIRClient(world["server"].base)
    open_tasks = (
        fhir.resources("Task").search(owner=KOMMUN, encounter=stay, status="requested").fetch_all()
    )
    assert sorted(t["code"]["coding"][0]["code"] for t in open_tasks) == [c.KVITTERA] * 2


def test_withdrawal_and_a_second_utskrivningsklar(world: dict[str, Any]) -> None:
    kommun, vc = world["kommun"], world["vc"]
    stay = _admit(world, "b")
    first = _send(world, c.UTSKRIVNINGSKLAR, stay, sent=_now(-0.5))
    withdrawn = f"Communication/{first['id']}"
    _send(world, c.UTSKRIVNINGSKLAR_ATERKALLAD, stay, sent=_now(-0.2), withdrawn=withdrawn)
    assert _state(world, stay) == c.ATERKALLAD
    second = _send(world, c.UTSKRIVNINGSKLAR, stay)
    assert _state(world, stay) == c.STATE_UTSKRIVNINGSKLAR
    expected = [
        (c.INSKRIVNINGSMEDDELANDE, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
        (c.UTSKRIVNINGSKLAR_ATERKALLAD, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
    ]
    for party in (kommun, vc):
        party.inbox.wait_for(lambda r, p=party: len(p.notices(stay)) >= 4, what="4 notices")
    _settle(kommun, vc)
    assert kommun.notices(stay) == expected and vc.notices(stay) == expected
    sip = {
        t["focus"]["reference"]: t["status"]
        for t in vc.latest("Task", stay).values()
        if t["code"]["coding"][0]["code"] == c.KALLA_TILL_SIP
    }
    assert sip == {
        f"Communication/{first['id']}": "cancelled",
        f"Communication/{second['id']}": "requested",
    }
    encounter = world["http"].get(f"/{stay}").json()
    clock = [e for e in encounter["extension"] if e["url"].endswith("lus-utskrivningsklar-time")]
    assert clock[0]["valueDateTime"] == second["sent"]


def test_a_retraction_reaches_the_receivers(world: dict[str, Any]) -> None:
    kommun, vc = world["kommun"], world["vc"]
    stay = _admit(world, "c")
    ready = _send(world, c.UTSKRIVNINGSKLAR, stay)
    vc.inbox.wait_for(lambda r: (c.KALLA_TILL_SIP, "requested") in vc.tasks(stay), what="SIP")
    ready["status"] = "entered-in-error"
    answer = world["http"].put(f"/Communication/{ready['id']}", json=ready)
    assert answer.status_code == 200, answer.text
    assert _state(world, stay) == c.PLANERING
    for party in (kommun, vc):
        party.inbox.wait_for(
            lambda r, p=party: (c.UTSKRIVNINGSKLAR, "entered-in-error") in p.notices(stay),
            what="the retraction",
        )
    vc.inbox.wait_for(lambda r: (c.KALLA_TILL_SIP, "cancelled") in vc.tasks(stay), what="cancel")
    _settle(kommun, vc)
    assert kommun.notices(stay) == [
        (c.INSKRIVNINGSMEDDELANDE, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
        (c.UTSKRIVNINGSKLAR, "entered-in-error"),
    ]
    kvittera = [
        t
        for t in kommun.latest("Task", stay).values()
        if t["focus"]["reference"] == f"Communication/{ready['id']}"
    ]
    assert [t["status"] for t in kvittera] == ["cancelled"]


def test_overdue_acknowledgement_and_sip_call(world: dict[str, Any]) -> None:
    kommun, vc, ward = world["kommun"], world["vc"], world["ward"]
    # announced 100 h ago (kvittera due after 12 h, planning after 24 h) and utskrivningsklar
    # 80 h ago (SIP call due after 3 days): all late, the fast vårdkontakt not yet due
    stay = _admit(world, "d", hours_ago=100)
    _send(world, c.UTSKRIVNINGSKLAR, stay, sent=_now(-80))
    # the clocks mark them; the owners and the ward (requester) are told
    vc.inbox.wait_for(
        lambda r: any(
            t["code"]["coding"][0]["code"] == c.KALLA_TILL_SIP
            and t["businessStatus"]["coding"][0]["code"] == c.FORSENAD
            for t in vc.latest("Task", stay).values()
        ),
        what="overdue SIP call",
    )
    ward.inbox.wait_for(
        lambda r: (
            len(
                {
                    (t["code"]["coding"][0]["code"], t["owner"]["reference"])
                    for t in ward.resources("Task", stay)
                }
            )
            >= 5
        ),
        what="the ward told of each overdue task",
    )
    _settle(ward)
    overdue_for_ward = {
        (t["code"]["coding"][0]["code"], t["owner"]["reference"])
        for t in ward.resources("Task", stay)
    }
    assert overdue_for_ward == {
        (c.KVITTERA, KOMMUN),
        (c.KVITTERA, VC),
        (c.PABORJA_PLANERING, KOMMUN),
        (c.PABORJA_PLANERING, VC),
        (c.KALLA_TILL_SIP, VC),
    }
    # each miss is a deviation, listed per party and period
    today = datetime.now(UTC).date()
    query = {"implicated": VC, "identified": f"ge{today - timedelta(days=6)}", "_count": "100"}
    found = world["http"].get("/DetectedIssue", params=query).json()
    vc_misses = sorted(
        e["resource"]["code"]["coding"][0]["code"]
        for e in found.get("entry", [])
        if e["resource"]["patient"]["reference"] == "Patient/p-d"
    )
    assert vc_misses == [c.KALLA_TILL_SIP, c.KVITTERA, c.KVITTERA, c.PABORJA_PLANERING]
    kommun_tasks = kommun.latest("Task", stay).values()
    assert {t["businessStatus"]["coding"][0]["code"] for t in kommun_tasks} == {c.FORSENAD}


def test_a_patient_registered_in_another_county(world: dict[str, Any]) -> None:
    kommun, vc, goteborg = world["kommun"], world["vc"], world["goteborg"]
    stay = _admit(world, "e", kommunkod="1480", listed=False)
    goteborg.inbox.wait_for(lambda r: goteborg.notices(stay), what="Göteborg's notice")
    _send(world, c.UTSKRIVNINGSKLAR, stay)
    goteborg.inbox.wait_for(lambda r: len(goteborg.notices(stay)) >= 2, what="utskrivningsklar")
    _settle(goteborg, kommun, vc)
    assert goteborg.notices(stay) == [
        (c.INSKRIVNINGSMEDDELANDE, "completed"),
        (c.UTSKRIVNINGSKLAR, "completed"),
    ]
    assert goteborg.tasks(stay) == {(c.KVITTERA, "requested"), (c.PABORJA_PLANERING, "requested")}
    # no primary-care unit and no SIP call: the patient is not listed; Kalmar sees nothing
    assert kommun.notices(stay) == [] and vc.notices(stay) == []
    assert kommun.tasks(stay) == set() and vc.tasks(stay) == set()
    assert json.dumps(kommun.inbox.bundles()).count("p-e") == 0
