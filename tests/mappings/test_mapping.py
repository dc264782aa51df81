"""The declarative mapping (mappings/hl7v2-adt.toml), its conversions and the 12-digit form
of Swedish personal identity numbers."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from fhir_server.definitions.content import CHECKOUT_ROOT, mapping_file
from fhir_server.mappings import engine
from fhir_server.mappings.er7 import parse
from fhir_server.mappings.problems import MessageProblem
from fhir_server.mappings.rules import ADT_MAPPING, MappingFileError, adt_mapping, load
from fhir_server.validation.profile.swedish import twelve_digit_form
from tests.mappings.messages import PERSONNUMMER, adt, personnummer, twelve

TODAY = datetime.date(2026, 11, 24)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("19121212-1212", "191212121212"),
        ("191212121212", "191212121212"),
        ("121212-1212", "201212121212"),  # under 100: the latest century
        ("121212+1212", "191212121212"),  # '+': 100 or older
        ("1212121212", "201212121212"),
        ("261231-1234", "192612311234"),  # 2026-12-31 is still to come: born 1926
        ("261124-1234", "202611241234"),  # born today
        ("701063-2391", "197010632391"),  # samordningsnummer: day 63 is the 3rd
        (" 19121212-1212 ", "191212121212"),
    ],
)
def test_twelve_digit_form(written: str, stored: str) -> None:
    assert twelve_digit_form(written, TODAY) == stored


@pytest.mark.parametrize("written", ["1912-12-12-1212", "12121212", "19121212_1212", "abc", ""])
def test_not_a_personal_identity_number(written: str) -> None:
    assert twelve_digit_form(written, TODAY) is None


def test_the_mapping_file_is_found_and_read() -> None:
    mapping = adt_mapping()
    assert mapping_file(ADT_MAPPING).is_file()
    assert set(mapping.events) == {"A01", "A02", "A03", "A08", "A11", "A13"}
    assert mapping.patient.segment == "PID" and mapping.encounter.segment == "PV1"


def test_docs_name_every_field_the_mapping_uses() -> None:
    """docs/adt.md lists the mapped fields: it may not fall behind the mapping file."""
    text = (CHECKOUT_ROOT / "docs" / "adt.md").read_text()
    mapping = adt_mapping()
    fields = {
        re.match(r"[A-Z0-9]{3}-[0-9]+", source.text).group(0)  # type: ignore[union-attr]
        for resource in (mapping.patient, mapping.encounter)
        for rule in resource.rules
        for source in rule.sources
    }
    assert fields >= {"PID-3", "PID-5", "PID-7", "PID-8", "PID-11", "PID-13", "PV1-2", "PV1-3"}
    assert fields >= {"PV1-10", "PV1-19", "PV1-44", "PV1-45", "EVN-2", "EVN-6", "MSH-7"}
    missing = sorted(f for f in fields if f not in text)
    assert not missing, f"docs/adt.md does not describe {missing}"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('map = "gender"', 'map = "no-such-map"'), "no-such-map"),
        (('type = "date"', 'type = "roman-numeral"'), "roman-numeral"),
        (('source = "PID-7"', 'source = "PID7"'), "PID7"),
        (('events = ["A01"]', 'events = ["A99"]'), "A99"),
    ],
)
def test_a_broken_mapping_file_is_refused(
    tmp_path: Path, change: tuple[str, str], problem: str
) -> None:
    text = mapping_file(ADT_MAPPING).read_text()
    assert change[0] in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(MappingFileError, match=problem):
        load(broken)


def _reading(event: str = "A01") -> engine.Reading:
    return engine.Reading(event, ZoneInfo("Europe/Stockholm"), TODAY)


def _period(admitted: str) -> str:
    changes = engine.read_changes(
        parse(adt("A01", admitted=admitted)), adt_mapping().encounter, _reading()
    )
    (start,) = [c.value for c in changes if c.rule.target == "period.start"]
    return str(start)


@pytest.mark.parametrize(
    ("hl7", "fhir"),
    [
        ("202602091420", "2026-02-09T14:20:00+01:00"),  # winter: CET
        ("20260701120000", "2026-07-01T12:00:00+02:00"),  # summer: CEST
        ("20260329023000", "2026-03-29T02:30:00+01:00"),  # in the spring gap: as CET
        ("20261025023000", "2026-10-25T02:30:00+02:00"),  # the autumn hour twice: the first
        ("20260209142000-0500", "2026-02-09T14:20:00-05:00"),
        ("20260209142005.25+0100", "2026-02-09T14:20:05.250+01:00"),
        ("20260209", "2026-02-09"),
    ],
)
def test_times_are_read_in_swedish_time_unless_they_carry_an_offset(hl7: str, fhir: str) -> None:
    assert _period(hl7) == fhir


def test_admission_time_falls_back_to_the_event_time() -> None:
    message = parse(adt("A01", admitted="", evn_time="202602100815"))
    changes = engine.read_changes(message, adt_mapping().encounter, _reading())
    assert [c.value for c in changes if c.rule.target == "period.start"] == [
        "2026-02-10T08:15:00+01:00"
    ]


def test_a_samordningsnummer_is_checked_as_one() -> None:
    snr = personnummer("19701063", "239")
    pid3 = f"{snr}^^^&1.2.752.129.2.1.3.3&ISO"
    changes = engine.read_changes(parse(adt("A01", pid3=pid3)), adt_mapping().patient, _reading())
    (identifiers,) = [c.value for c in changes if c.rule.target == "identifier"]
    assert identifiers == [
        {
            "system": "http://electronichealth.se/identifier/samordningsnummer",
            "value": snr.replace("-", ""),
        }
    ]
    as_personnummer = f"{snr}^^^&1.2.752.129.2.1.3.1&ISO"
    with pytest.raises(MessageProblem, match="valid date"):
        engine.read_changes(
            parse(adt("A01", pid3=as_personnummer)), adt_mapping().patient, _reading()
        )


def test_local_identifiers_are_left_out_and_several_names_kept() -> None:
    pid3 = "4711^^^PAS^PI~19121212-1212^^^&1.2.752.129.2.1.3.1&ISO"
    message = adt("A01", pid3=pid3, name="Tolvansson^Tolvan^^^^^L~Tolle^^^^^^N")
    changes = engine.read_changes(parse(message), adt_mapping().patient, _reading())
    values = {c.rule.target: c.value for c in changes}
    assert [i["value"] for i in values["identifier"]] == ["191212121212"]
    assert values["name"] == [
        {"family": "Tolvansson", "given": ["Tolvan"], "use": "official"},
        {"family": "Tolle", "use": "nickname"},
    ]


def test_an_hl7_null_removes_the_element(client: TestClient) -> None:
    pnr = personnummer("19401016", "602")

    def send(message: str) -> None:
        parameters = {
            "resourceType": "Parameters",
            "parameter": [{"name": "message", "valueString": message}],
        }
        response = client.post("/$hl7v2-adt", json=parameters)
        assert response.status_code == 200, response.text

    send(adt("A01", pnr=pnr, visit="VT-NULL"))
    send(adt("A08", pnr=pnr, visit="VT-NULL", phone='""', birth=""))
    search = client.get("/Patient", params={"identifier": f"{PERSONNUMMER}|{twelve(pnr)}"}).json()
    (entry,) = search["entry"]
    patient = entry["resource"]
    assert "telecom" not in patient  # "" removes
    assert patient["birthDate"] == "1912-12-12"  # empty leaves as it was
