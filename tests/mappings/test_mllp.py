"""The ADT feed over real MLLP framing on a TCP socket to a real server process, checked
over HTTP: every event, several messages per connection and several connections, and
malformed messages answered AE/AR with an ERR naming the problem and nothing stored."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.mappings.conftest import IDLE_SECONDS, MAX_FRAME
from tests.mappings.messages import (
    PERSONNUMMER,
    PNR_OID,
    VISIT_SYSTEM,
    WARD_GER,
    WARD_MED,
    adt,
    personnummer,
    segments,
    twelve,
)
from tests.mappings.mllp_client import START, MllpClient
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e
HSA = "urn:oid:1.2.752.29.4.19"
LUS_ENCOUNTER = "https://lus.example.se/fhir/StructureDefinition/lus-encounter"
LUS_STATE = "https://lus.example.se/fhir/StructureDefinition/lus-state"
KOMMUNKOD_EXTENSION = "https://lus.example.se/fhir/StructureDefinition/lus-kommunkod"


def _found(server: ServerProcess, kind: str, identifier: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base}/{kind}", params={"identifier": identifier}, timeout=10)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def _patient(server: ServerProcess, pnr: str) -> dict[str, Any]:
    (patient,) = _found(server, "Patient", f"{PERSONNUMMER}|{twelve(pnr)}")
    return patient


def _stay(server: ServerProcess, visit: str) -> dict[str, Any]:
    (encounter,) = _found(server, "Encounter", f"{VISIT_SYSTEM}|{visit}")
    return encounter


def _state(stay: dict[str, Any]) -> str | None:
    """The stay's LUS state: the feed never writes it; the server's LUS workflow
    (fhir_server/transitions/), where it runs, derives it from the Encounter's status."""
    for extension in stay.get("extension", []):
        if extension["url"] == LUS_STATE:
            return str(extension["valueCoding"]["code"])
    return None


def _accepted(ack: str, control: str, event: str) -> None:
    parts = segments(ack)
    assert parts["MSA"][1] == "AA", ack
    assert parts["MSA"][2] == control
    msh = parts["MSH"]
    # the sender's applications are the receiver's, and the other way round
    assert (msh[3], msh[4], msh[5], msh[6]) == ("LUS", "REGION", "PAS", "KALMAR")
    assert msh[9] == f"ACK^{event}^ACK" and msh[11] == "P" and msh[12] == "2.5"
    assert "ERR" not in parts


def _ward(server: ServerProcess, rid: str, hsa_id: str, name: str) -> None:
    organization = {
        "resourceType": "Organization",
        "id": rid,
        "meta": {"profile": ["https://lus.example.se/fhir/StructureDefinition/lus-care-unit"]},
        "identifier": [{"system": HSA, "value": hsa_id}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "https://lus.example.se/fhir/CodeSystem/lus-organization-type",
                        "code": "slutenvard",
                    }
                ]
            }
        ],
        "name": name,
    }
    response = httpx.put(f"{server.base}/Organization/{rid}", json=organization, timeout=10)
    assert response.status_code in (200, 201), response.text


def test_a_stay_from_admission_to_discharge_and_back(mllp_server: tuple[ServerProcess, int]):
    server, port = mllp_server
    _ward(server, "medicin-12", WARD_MED, "Medicinavdelning 12, Länssjukhuset Kalmar")
    pnr, visit = personnummer("19410708", "698"), "VT-2026-004711"
    with MllpClient(port) as pas:
        # A01 admit
        _accepted(pas.send(adt("A01", pnr=pnr, visit=visit, control="A01-1")), "A01-1", "A01")
        patient = _patient(server, pnr)
        assert patient["meta"]["profile"] == [
            "https://lus.example.se/fhir/StructureDefinition/lus-patient"
        ]
        assert patient["identifier"] == [{"system": PERSONNUMMER, "value": twelve(pnr)}]
        assert patient["name"] == [
            {"family": "Tolvansson", "given": ["Tolvan", "Tolvsson"], "use": "official"}
        ]
        assert patient["birthDate"] == "1912-12-12" and patient["gender"] == "male"
        (address,) = patient["address"]
        assert address["line"] == ["Storgatan 12"] and address["city"] == "Kalmar"
        assert address["postalCode"] == "39232" and address["use"] == "home"
        kommun = [e for e in address["extension"] if e["url"] == KOMMUNKOD_EXTENSION]
        assert kommun == [
            {
                "url": KOMMUNKOD_EXTENSION,
                "valueCoding": {"system": "urn:oid:1.2.752.129.2.2.1.17", "code": "0880"},
            }
        ]
        assert patient["telecom"] == [{"system": "phone", "value": "0480123456", "use": "home"}]
        stay = _stay(server, visit)
        assert stay["status"] == "in-progress"
        assert stay["meta"]["profile"] == [LUS_ENCOUNTER]
        assert stay["class"]["code"] == "IMP"
        assert stay["subject"] == {"reference": f"Patient/{patient['id']}"}
        assert stay["period"] == {"start": "2026-02-09T14:20:00+01:00"}
        assert stay["serviceProvider"] == {
            "identifier": {"system": HSA, "value": WARD_MED},
            "reference": "Organization/medicin-12",
            "display": "Medicinavdelning 12, Länssjukhuset Kalmar",
        }
        assert stay["serviceType"]["coding"][0]["code"] == "somatisk"
        assert _state(stay) in (None, "inskriven")

        # A02 transfer to a ward the server has no Organization for
        _accepted(
            pas.send(adt("A02", pnr=pnr, visit=visit, ward=WARD_GER, control="A02-1")),
            "A02-1",
            "A02",
        )
        stay = _stay(server, visit)
        assert stay["serviceProvider"] == {"identifier": {"system": HSA, "value": WARD_GER}}
        assert stay["status"] == "in-progress" and stay["meta"]["versionId"] == "2"

        # A08 update: a new name and a move to another municipality
        update = adt(
            "A08",
            pnr=pnr,
            visit=visit,
            ward=WARD_GER,
            name="Lindqvist^Karin^^^^^L",
            sex="F",
            address="Norra vägen 3^^Nybro^^38231^SE^L^^0881",
            phone="",
            control="A08-1",
        )
        _accepted(pas.send(update), "A08-1", "A08")
        patient = _patient(server, pnr)
        assert patient["name"] == [{"family": "Lindqvist", "given": ["Karin"], "use": "official"}]
        assert patient["gender"] == "female"
        assert patient["address"][0]["city"] == "Nybro"
        assert any(
            e.get("valueCoding", {}).get("code") == "0881"
            for e in patient["address"][0]["extension"]
        )
        assert patient["telecom"] == [{"system": "phone", "value": "0480123456", "use": "home"}]
        assert _stay(server, visit)["status"] == "in-progress"

        # A03 discharge
        discharge = adt(
            "A03", pnr=pnr, visit=visit, ward=WARD_GER, discharged="202602181030", control="A03-1"
        )
        _accepted(pas.send(discharge), "A03-1", "A03")
        stay = _stay(server, visit)
        assert stay["status"] == "finished" and _state(stay) in (None, "utskriven")
        assert stay["period"] == {
            "start": "2026-02-09T14:20:00+01:00",
            "end": "2026-02-18T10:30:00+01:00",
        }

        # A13 cancel discharge
        _accepted(
            pas.send(adt("A13", pnr=pnr, visit=visit, ward=WARD_GER, control="A13-1")),
            "A13-1",
            "A13",
        )
        stay = _stay(server, visit)
        assert stay["status"] == "in-progress" and _state(stay) in (None, "inskriven")
        assert stay["period"] == {"start": "2026-02-09T14:20:00+01:00"}

        # A11 cancel admit
        _accepted(
            pas.send(adt("A11", pnr=pnr, visit=visit, ward=WARD_GER, control="A11-1")),
            "A11-1",
            "A11",
        )
        stay = _stay(server, visit)
        assert stay["status"] == "entered-in-error" and _state(stay) in (None, "makulerad")
        assert stay["meta"]["versionId"] == "5"  # A08 left the stay as it was
    # one Patient, one Encounter: every message found them again by their identifiers
    assert len(_found(server, "Patient", f"{PERSONNUMMER}|{twelve(pnr)}")) == 1
    history = httpx.get(f"{server.base}/Patient/{patient['id']}/_history", timeout=10).json()
    assert history["total"] == 2  # A01 and A08 wrote it


def test_psychiatric_care_10_digit_personnummer_and_a_resent_admission(
    mllp_server: tuple[ServerProcess, int],
) -> None:
    server, port = mllp_server
    visit = "VT-2026-PSY-1"
    # 10 digits with '+': born 1912, 100 years or more ago
    message = adt(
        "A01", pnr="121212+1212", visit=visit, service="PSY", admitted="20260301083000+0100"
    )
    with MllpClient(port) as pas:
        assert segments(pas.send(message))["MSA"][1] == "AA"
        assert segments(pas.send(message))["MSA"][1] == "AA"  # the same message again
    patient = _patient(server, "19121212-1212")
    stay = _stay(server, visit)
    assert stay["serviceType"]["coding"][0]["code"] == "psykiatrisk"
    assert stay["period"]["start"] == "2026-03-01T08:30:00+01:00"
    assert stay["subject"]["reference"] == f"Patient/{patient['id']}"
    assert stay["meta"]["versionId"] == "1"  # resending changed nothing


def test_several_connections_at_once(mllp_server: tuple[ServerProcess, int]) -> None:
    server, port = mllp_server
    people = [personnummer("19870227", f"{n:03d}") for n in range(241, 245)]
    clients = [MllpClient(port) for _ in people]
    try:
        for client, pnr in zip(clients, people, strict=True):
            client.send_bytes(START + adt("A01", pnr=pnr, visit=f"VT-C-{pnr}").encode() + b"\x1c\r")
        answers = [segments(c.read_frame().decode())["MSA"][1] for c in clients]
    finally:
        for client in clients:
            client.sock.close()
    assert answers == ["AA"] * len(people)
    for pnr in people:
        assert _stay(server, f"VT-C-{pnr}")["status"] == "in-progress"


def test_latin1_message_and_noise_before_the_frame(mllp_server: tuple[ServerProcess, int]) -> None:
    server, port = mllp_server
    pnr = personnummer("19510414", "923")
    text = adt("A01", pnr=pnr, visit="VT-L1", name="Öberg^Åsa^^^^^L", charset="8859/1")
    with MllpClient(port) as pas:
        pas.send_bytes(b"\r\n")  # keep-alive noise between frames is skipped
        ack = pas.frame(text.encode("latin-1"))
    assert segments(ack.decode("latin-1"))["MSA"][1] == "AA"
    assert _patient(server, pnr)["name"][0] == {
        "family": "Öberg",
        "given": ["Åsa"],
        "use": "official",
    }


# -- malformed messages: AE / AR, ERR naming the problem, nothing stored ---------------------

PNR_BAD = personnummer("19930303", "013")


def _case(pnr: str, visit: str, **kw: Any) -> str:
    return adt(kw.pop("event", "A01"), pnr=pnr, visit=visit, **kw)


MALFORMED = [
    # (name, message, MSA-1, ERR-2 location, ERR-3 code, words the text must hold)
    ("no MSH", lambda p, v: _case(p, v).split("\r", 1)[1], "AR", "MSH^1^1^1", "100", "MSH"),
    (
        "bad separators",
        lambda p, v: _case(p, v).replace("MSH|^~\\&|", "MSH|^^\\&|", 1),
        "AR",
        "MSH^1^2^1",
        "102",
        "MSH-2",
    ),
    (
        "unknown event",
        lambda p, v: _case(p, v, message_type="ADT^A04^ADT_A01"),
        "AR",
        "MSH^1^9^1",
        "201",
        "A04",
    ),
    (
        "not ADT",
        lambda p, v: _case(p, v, message_type="ORU^R01^ORU_R01"),
        "AR",
        "MSH^1^9^1",
        "200",
        "ORU",
    ),
    (
        "unsupported version",
        lambda p, v: _case(p, v, version="2.1"),
        "AR",
        "MSH^1^12^1",
        "203",
        "2.1",
    ),
    ("missing PID-3", lambda p, v: _case(p, v, pid3=""), "AE", "PID^1^3^1", "101", "PID-3"),
    (
        "PID-3 without a personnummer",
        lambda p, v: _case(p, v, pid3="4711^^^PAS^PI"),
        "AE",
        "PID^1^3^1",
        "101",
        "no identifier",
    ),
    (
        "bad personnummer",
        lambda p, v: _case(p, v, pid3=f"{p[:-1]}{(int(p[-1]) + 1) % 10}^^^&{PNR_OID}&ISO"),
        "AE",
        "PID^1^3^1^1",
        "102",
        "check digit",
    ),
    (
        "no date in PID-3",
        lambda p, v: _case(p, v, pid3=f"ABC^^^&{PNR_OID}&ISO"),
        "AE",
        "PID^1^3^1^1",
        "102",
        "ABC",
    ),
    ("outpatient", lambda p, v: _case(p, v, patient_class="O"), "AE", "PV1^1^2^1", "103", "'O'"),
    ("no ward", lambda p, v: _case(p, v, ward=""), "AE", "PV1^1^3^1^1", "101", "PV1-3.1"),
    (
        "ward not an HSA-id",
        lambda p, v: _case(p, v, ward="MED12"),
        "AE",
        "PV1^1^3^1^1",
        "102",
        "HSA-id",
    ),
    (
        "bad admit time",
        lambda p, v: _case(p, v, admitted="20261345"),
        "AE",
        "PV1^1^44^1",
        "102",
        "20261345",
    ),
    (
        "no visit number",
        lambda p, v: adt("A01", pnr=p, visit=""),
        "AE",
        "PV1^1^19^1",
        "101",
        "PV1-19",
    ),
    (
        "kommunkod not SCB's",
        lambda p, v: _case(p, v, address="Storgatan 1^^Kalmar^^39232^SE^L^^0999"),
        "AE",
        "PID^1^11^1",
        "102",
        "0999",
    ),
    (
        "unknown visit",
        lambda p, v: _case(p, v, event="A03", discharged="202602181030"),
        "AE",
        "PV1^1^19^1",
        "204",
        "VT-BAD",
    ),
    # the Patient is valid and written in the job, the Encounter is not: all is undone
    (
        "bad visit authority",
        lambda p, v: adt("A01", pnr=p, visit=f"{v}^^^&not an oid&ISO"),
        "AE",
        "PV1^1^19^1",
        "102",
        "Encounter",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "code", "location", "error", "words"),
    MALFORMED,
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_messages_are_answered_and_store_nothing(
    mllp_server: tuple[ServerProcess, int],
    name: str,
    make: Any,
    code: str,
    location: str,
    error: str,
    words: str,
) -> None:
    server, port = mllp_server
    number = MALFORMED.index(next(c for c in MALFORMED if c[0] == name))
    pnr, visit = personnummer("19930303", f"{100 + number:03d}"), f"VT-BAD-{number}"
    with MllpClient(port) as pas:
        ack = pas.send(make(pnr, visit))
        parts = segments(ack)
        assert parts["MSA"][1] == code, ack
        err = parts["ERR"]
        assert err[2] == location, ack
        assert err[3].split("^")[0] == error, ack
        assert err[4] == "E"
        assert words in err[8] and words in parts["MSA"][3], ack
        if code == "AE":  # the message was read: the ACK answers its control id
            assert parts["MSA"][2].startswith("MSG")
        # the connection goes on: a good message after a bad one is accepted
        good = adt("A01", pnr=personnummer("19011224", "982"), visit="VT-GOOD")
        assert segments(pas.send(good))["MSA"][1] == "AA"
    assert _found(server, "Patient", f"{PERSONNUMMER}|{twelve(pnr)}") == []
    assert _found(server, "Encounter", f"{VISIT_SYSTEM}|{visit}") == []
    assert _found(server, "Encounter", f"urn:oid:not an oid|{visit}") == []


def test_an_oversized_frame_is_rejected_and_the_connection_closed(
    mllp_server: tuple[ServerProcess, int],
) -> None:
    server, port = mllp_server
    pnr = personnummer("19400101", "123")
    padding = "NTE|1||" + "x" * MAX_FRAME
    text = adt("A01", pnr=pnr, visit="VT-BIG") + padding + "\r"
    with MllpClient(port) as pas:
        parts = segments(pas.send(text))
        assert parts["MSA"][1] == "AR"
        assert parts["ERR"][3].split("^")[0] == "100" and str(MAX_FRAME) in parts["ERR"][8]
        assert pas.closed_by_server()
    assert _found(server, "Patient", f"{PERSONNUMMER}|{twelve(pnr)}") == []


def test_an_idle_connection_is_closed(mllp_server: tuple[ServerProcess, int]) -> None:
    _, port = mllp_server
    with MllpClient(port, timeout=IDLE_SECONDS * 5) as pas:
        started = time.monotonic()
        assert pas.closed_by_server()
        assert IDLE_SECONDS - 0.5 <= time.monotonic() - started < IDLE_SECONDS * 4
