"""HL7 v2 ADT test messages as a Swedish PAS sends them, with test personnummer
(check digits computed as Skatteverket's rules give them) and HSA-ids of region Kalmar."""

from __future__ import annotations

import itertools

from fhir_server.validation.profile.swedish import luhn_check_digit

PNR_OID = "1.2.752.129.2.1.3.1"
SNR_OID = "1.2.752.129.2.1.3.3"
WARD_MED = "SE2321000073-MED12"
WARD_GER = "SE2321000073-GER3"
WARD_PSY = "SE2321000073-PSY2"
PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
VISIT_SYSTEM = "https://lus.example.se/fhir/id/vardtillfalle"
_CONTROL = itertools.count(1)


def personnummer(birth: str, serial: str) -> str:
    """YYYYMMDD-NNNC with its check digit (Luhn over YYMMDDNNN)."""
    return f"{birth}-{serial}{luhn_check_digit(birth[2:] + serial)}"


def twelve(number: str) -> str:
    return number.replace("-", "").replace("+", "")


def adt(
    event: str,
    *,
    pnr: str = "19121212-1212",
    visit: str = "VT-2026-000001",
    ward: str = WARD_MED,
    patient_class: str = "I",
    service: str = "MED",
    admitted: str = "202602091420",
    discharged: str = "",
    name: str = "Tolvansson^Tolvan^Tolvsson^^^^L",
    birth: str = "19121212",
    sex: str = "M",
    address: str = "Storgatan 12^^Kalmar^^39232^SE^L^^0880",
    phone: str = "^PRN^PH^^^^^^^^^0480123456",
    pid3: str | None = None,
    control: str | None = None,
    version: str = "2.5",
    message_type: str | None = None,
    charset: str = "UNICODE UTF-8",
    evn_time: str = "202602091420",
) -> str:
    control = control or f"MSG{next(_CONTROL):06d}"
    identifiers = pid3 if pid3 is not None else f"{pnr}^^^&{PNR_OID}&ISO^NNSWE"
    kind = message_type or f"ADT^{event}^ADT_A01"
    pv1 = ["PV1", "1", patient_class, f"{ward}^^^&SE2321000073&HSA"] + [""] * 6 + [service]
    pv1 += [""] * (19 - len(pv1)) + [visit]
    pv1 += [""] * (44 - len(pv1)) + [admitted, discharged]
    segments = [
        f"MSH|^~\\&|PAS|KALMAR|LUS|REGION|20260209142000||{kind}|{control}|P|{version}"
        f"|||AL|NE||{charset}",
        f"EVN|{event}|{evn_time}",
        f"PID|1||{identifiers}||{name}||{birth}|{sex}|||{address}||{phone}",
        "|".join(pv1).rstrip("|"),
    ]
    return "\r".join(segments) + "\r"


def segments(ack: str) -> dict[str, list[str]]:
    """An ACK's segments by name, each as its fields (fields[n] is SEG-n; MSH-1 is '|')."""
    found: dict[str, list[str]] = {}
    for line in filter(None, ack.replace("\n", "\r").split("\r")):
        fields = line.split("|")
        if fields[0] == "MSH":
            fields = ["MSH", "|", *fields[1:]]
        found[fields[0]] = fields
    return found
