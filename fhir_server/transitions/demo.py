"""`fhir-server demo`: one complete LUS stay played against a real server.

The demo starts the server on a free loopback port (embedded store in a temporary or the
given directory), registers a hospital ward, two municipalities and two primary-care units,
subscribes each receiving party to its notices and Tasks with its own HTTP receiver, and
plays Karin Lindqvist's stay from admission to discharge as the ward, the municipality and
the primary-care unit would. After each step it prints what each party received.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from aiohttp import web

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import fhir_instant, swedish

SD = f"{CANONICAL_BASE}/StructureDefinition"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
NOTICE_DISPLAY = {
    c.INSKRIVNINGSMEDDELANDE: "Inskrivningsmeddelande",
    c.BERAKNAD_UTSKRIVNING_ANDRAD: "Ändrad beräknad utskrivning",
    c.PLANERING_PABORJAD: "Planering påbörjad",
    c.PLANERINGSUNDERLAG: "Planeringsunderlag",
    c.FAST_VARDKONTAKT_UTSEDD: "Fast vårdkontakt utsedd",
    c.UTSKRIVNINGSKLAR: "Utskrivningsklar",
    c.UTSKRIVNINGSKLAR_ATERKALLAD: "Utskrivningsklar återkallad",
    c.SIP_KALLELSE: "Kallelse till SIP",
    c.UTSKRIVNINGSMEDDELANDE: "Utskrivningsmeddelande",
    c.MEDDELANDE: "Meddelande",
    c.KVITTENS: "Kvittens",
}


@dataclass(frozen=True)
class Party:
    key: str
    name: str
    resource: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"Organization/{self.key}"


def _organization(key: str, name: str, kind: str, identifier: tuple[str, str]) -> Party:
    system, value = identifier
    return Party(
        key,
        name,
        {
            "resourceType": "Organization",
            "id": key,
            "identifier": [{"system": system, "value": value}],
            "type": [{"coding": [{"system": c.ORGANIZATION_TYPE, "code": kind}]}],
            "active": True,
            "name": name,
        },
    )


WARD = _organization(
    "medicin-12",
    "Medicinavdelning 12, Länssjukhuset Kalmar",
    "slutenvard",
    (c.HSA_ID, "SE2321000081-S000000012345"),
)
KALMAR = _organization("kalmar-kommun", "Kalmar kommun", "kommun", (c.KOMMUNKOD, "0880"))
NYBRO = _organization("nybro-kommun", "Nybro kommun", "kommun", (c.KOMMUNKOD, "0881"))
VC_KALMAR = _organization(
    "vc-kalmar-centrum",
    "Vårdcentralen Kalmar Centrum",
    "primarvard",
    (c.HSA_ID, "SE2321000081-P000000067890"),
)
VC_NYBRO = _organization(
    "vc-nybro", "Vårdcentralen Nybro", "primarvard", (c.HSA_ID, "SE2321000081-P000000011223")
)
RECEIVERS = (KALMAR, NYBRO, VC_KALMAR, VC_NYBRO)


KARIN_ADDRESS = {
    "extension": [
        {"url": f"{SD}/lus-kommunkod", "valueCoding": {"system": c.KOMMUNKOD, "code": "0880"}}
    ],
    "line": ["Storgatan 12"],
    "postalCode": "39232",
    "city": "Kalmar",
}


def _patient(key: str, pnr: str, given: str, family: str, kommun: Party, unit: Party) -> dict:
    kommunkod = kommun.resource["identifier"][0]["value"]
    return {
        "resourceType": "Patient",
        "id": key,
        "identifier": [{"system": c.PERSONNUMMER, "value": pnr}],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "address": [
            {
                "extension": [
                    {
                        "url": f"{SD}/lus-kommunkod",
                        "valueCoding": {"system": c.KOMMUNKOD, "code": kommunkod},
                    }
                ],
                "line": ["Storgatan 12"],
                "city": kommun.name.removesuffix(" kommun"),
            }
        ],
        "generalPractitioner": [{"reference": unit.ref}],
    }


@dataclass
class Inbox:
    """What one party's HTTP receiver got: notices and Tasks, newest version per id."""

    party: Party
    seen: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    fresh: list[str] = field(default_factory=list)

    def take(self, bundle: dict[str, Any]) -> None:
        for entry in bundle.get("entry", [])[1:]:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") not in ("Communication", "Task"):
                continue
            key = f"{resource['resourceType']}/{resource['id']}"
            version = int(resource.get("meta", {}).get("versionId", "0"))
            if key in self.seen and self.seen[key][0] >= version:
                continue
            self.seen[key] = (version, resource)
            self.fresh.append(describe(resource))

    def seen_descriptions(self) -> list[str]:
        return [describe(resource) for _, resource in self.seen.values()]

    def summary(self) -> str:
        resources = [resource for _, resource in self.seen.values()]
        notices = sum(r["resourceType"] == "Communication" for r in resources)
        tasks = [r for r in resources if r["resourceType"] == "Task"]
        if not resources:
            return "inget mottaget (patienten hör inte hit)"
        done = sum(t["status"] == "completed" for t in tasks)
        return f"{notices} meddelanden, {len(tasks)} uppgifter ({done} klara)"


def describe(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Communication":
        code = resource["category"][0]["coding"][0]["code"]
        status = " (MAKULERAT)" if resource.get("status") == "entered-in-error" else ""
        return f"meddelande: {NOTICE_DISPLAY.get(code, code)}{status}"
    code = resource["code"]["coding"][0]
    due = swedish(datetime.fromisoformat(resource["restriction"]["period"]["end"]))
    late = resource.get("businessStatus", {}).get("coding", [{}])[0].get("code") == c.FORSENAD
    state = {"requested": "att göra", "completed": "klar", "cancelled": "avbruten"}.get(
        resource["status"], resource["status"]
    )
    flag = ", FÖRSENAD" if late else ""
    return (
        f"uppgift: {code.get('display', code['code'])} ({state}{flag}, senast {due:%Y-%m-%d %H:%M})"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _subscription(topic: str, endpoint: str, criteria: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [BACKPORT + "backport-subscription"]},
        "status": "requested",
        "reason": "LUS-demo",
        "criteria": f"{CANONICAL_BASE}/SubscriptionTopic/{topic}",
        "_criteria": {
            "extension": [{"url": BACKPORT + "backport-filter-criteria", "valueString": criteria}]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [
                    {"url": BACKPORT + "backport-payload-content", "valueCode": "full-resource"}
                ]
            },
        },
    }


class Demo:
    def __init__(self, data_dir: Path, write: Callable[[str], None]) -> None:
        self.data_dir = data_dir
        self.write = write
        self.inboxes = {p.key: Inbox(p) for p in RECEIVERS}
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    async def run(self) -> dict[str, list[str]]:
        receiver = web.Application()
        receiver.router.add_post("/{party}", self._receive)
        runner = web.AppRunner(receiver)
        await runner.setup()
        hook_port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", hook_port).start()
        settings = Settings(
            data_dir=self.data_dir,
            insecure_no_auth=True,
            publish_definitions=False,
            subscription_endpoint_hosts=["127.0.0.1"],
            subscription_retry_base=0.1,
            # the stay is played in compressed time: the clocks, which go by the real
            # clock, would find its past deadlines passed (tests/transitions show them)
            lus_clock_interval=3600.0,
        )
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="error"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            for _ in range(300):  # bounded: 30 s
                if server.started:
                    break
                await asyncio.sleep(0.1)
            async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
                await self._setup(http, f"http://127.0.0.1:{hook_port}")
                await self._play(http)
        finally:
            server.should_exit = True
            await serving
            await runner.cleanup()
        return {key: inbox.seen_descriptions() for key, inbox in self.inboxes.items()}

    async def _receive(self, request: web.Request) -> web.Response:
        inbox = self.inboxes.get(request.match_info["party"])
        body = await request.read()
        if inbox is not None and body:
            inbox.take(orjson.loads(body))
        return web.Response(status=200)

    async def _setup(self, http: httpx.AsyncClient, hooks: str) -> None:
        entries = [
            {"resource": p.resource, "request": {"method": "PUT", "url": p.ref}}
            for p in (WARD, *RECEIVERS)
        ]
        for patient in (
            _patient("karin", "194107086987", "Karin", "Lindqvist", KALMAR, VC_KALMAR),
            _patient("tolvan", "191212121212", "Tolvan", "Tolvansson", NYBRO, VC_NYBRO),
        ):
            entries.append(
                {
                    "resource": patient,
                    "request": {"method": "PUT", "url": f"Patient/{patient['id']}"},
                }
            )
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        (await http.post("/", json=bundle)).raise_for_status()
        for party in RECEIVERS:
            for topic, criteria in (
                ("notice", f"Communication?recipient={party.ref}"),
                ("task", f"Task?owner={party.ref}"),
            ):
                body = _subscription(topic, f"{hooks}/{party.key}", criteria)
                (await http.post("/Subscription", json=body)).raise_for_status()
        self.write("LUS-demo: samverkan vid utskrivning (SFS 2017:612) över FHIR R4")
        self.write(f"Server {self.base}, data i {self.data_dir}")
        self.write(f"Avsändare: {WARD.name}")
        self.write("Mottagare: " + ", ".join(p.name for p in RECEIVERS))

    async def _step(self, http: httpx.AsyncClient, text: str, resource: dict[str, Any]) -> dict:
        method, url = (
            ("PUT", f"/{resource['resourceType']}/{resource['id']}")
            if resource.get("id")
            else ("POST", f"/{resource['resourceType']}")
        )
        answer = await http.request(method, url, json=resource)
        answer.raise_for_status()
        self.write("")
        self.write(text)
        await self._report()
        stored: dict[str, Any] = answer.json()
        return stored

    async def _report(self) -> None:
        """Wait until the deliveries settle (bounded), then print what each party got."""
        last = -1
        for _ in range(40):  # at most 4 s
            await asyncio.sleep(0.1)
            count = sum(len(i.fresh) for i in self.inboxes.values())
            if count == last:
                break
            last = count
        for inbox in self.inboxes.values():
            for line in inbox.fresh:
                self.write(f"    → {inbox.party.name}: {line}")
            inbox.fresh.clear()

    async def _play(self, http: httpx.AsyncClient) -> None:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=4)

        def at(hours: float) -> str:
            return fhir_instant(start + timedelta(hours=hours))

        stay = {
            "resourceType": "Encounter",
            "id": "karin-stay",
            "meta": {"profile": [f"{SD}/lus-encounter"]},
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "serviceType": {"coding": [{"system": c.CARE_TYPE, "code": c.SOMATISK}]},
            "subject": {"reference": "Patient/karin"},
            "period": {"start": at(0)},
            "serviceProvider": {"reference": WARD.ref},
        }
        await self._step(http, f"{_t(at(0))} Karin Lindqvist (19410708-6987) skrivs in", stay)

        def notice(code: str, hours: float, sender: Party, **more: Any) -> dict[str, Any]:
            body: dict[str, Any] = {
                "resourceType": "Communication",
                "status": "completed",
                "category": [{"coding": [{"system": c.NOTICE_TYPE, "code": code}]}],
                "subject": {"reference": "Patient/karin"},
                "encounter": {"reference": "Encounter/karin-stay"},
                "about": [{"reference": "Encounter/karin-stay"}],
                "sent": at(hours),
                "sender": {"reference": sender.ref},
                "payload": [{"contentString": NOTICE_DISPLAY[code]}],
                **more,
            }
            return body

        async def acknowledge(
            sent: dict[str, Any], receivers: tuple[tuple[float, Party], ...]
        ) -> None:
            """Each receiver's kvittens of a notice, at its hour."""
            for hours, party in receivers:
                await self._step(
                    http,
                    f"{_t(at(hours))} {party.name} kvitterar",
                    notice(
                        c.KVITTENS,
                        hours,
                        party,
                        recipient=[{"reference": WARD.ref}],
                        inResponseTo=[{"reference": f"Communication/{sent['id']}"}],
                    ),
                )

        first = await self._step(
            http,
            f"{_t(at(2))} {WARD.name} skickar inskrivningsmeddelande till {KALMAR.name}"
            " (servern lägger till vårdcentralen där Karin är listad)",
            notice(
                c.INSKRIVNINGSMEDDELANDE,
                2,
                WARD,
                # the law's content: name, personnummer, registered address, estimated
                # discharge; addressed to the municipality, the server adds the listing unit
                subject={
                    "reference": "Patient/karin",
                    "identifier": {"system": c.PERSONNUMMER, "value": "194107086987"},
                    "display": "Karin Lindqvist",
                },
                recipient=[{"reference": KALMAR.ref}],
                extension=[
                    {"url": f"{SD}/lus-estimated-discharge", "valueDateTime": at(96)},
                    {"url": f"{SD}/lus-registered-address", "valueAddress": KARIN_ADDRESS},
                ],
                payload=[{"contentString": "Inlagd efter fall i hemmet. Bor ensam."}],
            ),
        )
        await acknowledge(first, ((3, KALMAR), (3.5, VC_KALMAR)))
        await self._step(
            http,
            f"{_t(at(5))} {KALMAR.name} påbörjar planeringen",
            notice(c.PLANERING_PABORJAD, 5, KALMAR, recipient=[{"reference": WARD.ref}]),
        )
        await self._step(
            http,
            f"{_t(at(6))} {VC_KALMAR.name} påbörjar planeringen och utser fast vårdkontakt",
            notice(c.PLANERING_PABORJAD, 6, VC_KALMAR, recipient=[{"reference": WARD.ref}]),
        )
        await self._step(
            http,
            f"{_t(at(6))} {VC_KALMAR.name}: fast vårdkontakt är distriktssköterska Eva Nilsson",
            notice(
                c.FAST_VARDKONTAKT_UTSEDD,
                6,
                VC_KALMAR,
                recipient=[{"reference": WARD.ref}, {"reference": KALMAR.ref}],
            ),
        )
        ready = await self._step(
            http,
            f"{_t(at(70))} {WARD.name}: Karin är utskrivningsklar (betalningsklockan startar)",
            notice(c.UTSKRIVNINGSKLAR, 70, WARD),
        )
        await acknowledge(ready, ((71, KALMAR), (72, VC_KALMAR)))
        await self._step(
            http,
            f"{_t(at(75))} {VC_KALMAR.name} kallar till SIP",
            notice(
                c.SIP_KALLELSE,
                75,
                VC_KALMAR,
                recipient=[{"reference": KALMAR.ref}, {"reference": WARD.ref}],
            ),
        )
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
            ]
            + [{"name": "time", "valueDateTime": at(90)}],
        }
        (await http.post("/Encounter/karin-stay/$hemgangsklar", json=checks)).raise_for_status()
        self.write("")
        self.write(f"{_t(at(90))} Hemgångsklar: checklistan är klar")
        await self._step(
            http,
            f"{_t(at(93))} {WARD.name} skickar utskrivningsmeddelande: Karin åker hem",
            notice(c.UTSKRIVNINGSMEDDELANDE, 93, WARD),
        )
        encounter = (await http.get("/Encounter/karin-stay")).json()
        state = next(
            e["valueCoding"]["display"]
            for e in encounter.get("extension", [])
            if e["url"].endswith("/lus-state")
        )
        self.write("")
        self.write(f"Vårdtillfällets läge: {state}")
        for inbox in self.inboxes.values():
            self.write(f"{inbox.party.name}: {inbox.summary()}")


def _t(instant_text: str) -> str:
    return f"[{swedish(datetime.fromisoformat(instant_text)):%Y-%m-%d %H:%M}]"


def run(data_dir: Path | None = None, write: Callable[[str], None] = print) -> dict[str, list[str]]:
    if data_dir is not None:
        return asyncio.run(Demo(data_dir, write).run())
    with tempfile.TemporaryDirectory(prefix="lus-demo-") as tmp:
        return asyncio.run(Demo(Path(tmp), write).run())
