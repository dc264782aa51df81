"""$utskrivningsklara-dagar and $betalningsansvar over HTTP: stays loaded through the API,
the MeasureReport and the CSV checked against figures computed by hand."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.transitions import codes as c
from fhir_server.transitions.reports.report import MEASURE_DAYS

SD = "https://lus.example.se/fhir/StructureDefinition"
KOMMUN = "urn:oid:1.2.752.129.2.2.1.17"
WARD = "Organization/ward"
_ids = itertools.count(1)


def _uuid() -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{next(_ids):012d}"


def _notice(
    code: str, sent: str, stay: str, patient: str, recipients: list[str], **more: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": more.pop("status", "completed"),
        "category": [{"coding": [{"system": c.NOTICE_TYPE, "code": code}]}],
        "subject": {"reference": patient},
        "encounter": {"reference": stay},
        "about": [{"reference": stay}],
        "sent": sent,
        "sender": {"reference": WARD},
        "recipient": [{"reference": r} for r in recipients],
        "payload": [{"contentString": code}],
        **more,
    }


def load_stay(
    client: TestClient,
    municipality: str,
    kommunkod: str,
    *,
    care: str = c.SOMATISK,
    ready: list[str],
    discharged: str,
    withdrawn: list[str] = [],  # noqa: B006
    retracted: list[str] = [],  # noqa: B006
    admission_notice: bool = True,
    about_only: bool = False,
    legacy: Settings | None = None,
) -> str:
    """One stay as a hospital would post it: Patient, Encounter and its notices in one
    transaction; returns the Encounter's id. A stay with no inskrivningsmeddelande cannot
    be posted (the workflow refuses its utskrivningsklar): it comes from an older system
    through `fhir-server import` into the store of `legacy`, which runs no workflow."""
    patient, stay = _uuid(), _uuid()
    # admitted, and the inskrivningsmeddelande sent, a week before the first notice
    admitted = min(datetime.fromisoformat(s) for s in [*ready, *retracted]) - timedelta(days=7)
    entries: list[dict[str, Any]] = [
        {"fullUrl": patient, "resource": {"resourceType": "Patient", "active": True}},
        {
            "fullUrl": stay,
            "resource": {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "serviceType": {"coding": [{"system": c.CARE_TYPE, "code": care}]},
                "subject": {"reference": patient},
                "period": {"start": admitted.isoformat(), "end": discharged},
                "serviceProvider": {"reference": WARD},
            },
        },
    ]
    notices = []
    if admission_notice:
        address = {
            "extension": [
                {
                    "url": c.KOMMUNKOD_EXTENSION,
                    "valueCoding": {"system": KOMMUN, "code": kommunkod},
                }
            ],
            "line": ["Storgatan 1"],
        }
        notices.append(
            _notice(
                c.INSKRIVNINGSMEDDELANDE,
                (admitted + timedelta(hours=1)).isoformat(),
                stay,
                patient,
                [municipality],
                extension=[
                    {"url": c.REGISTERED_ADDRESS_EXTENSION, "valueAddress": address},
                    {"url": c.ESTIMATED_DISCHARGE_EXTENSION, "valueDateTime": discharged},
                ],
            )
        )
        # the law's content: personnummer and name
        notices[0]["subject"].update(
            identifier={"system": c.PERSONNUMMER, "value": "191212121212"},
            display="Tolvan Tolvansson",
        )
    readies = {s: _uuid() for s in ready}
    notices += [_notice(c.UTSKRIVNINGSKLAR, s, stay, patient, [municipality]) for s in ready]
    for when in withdrawn:  # each withdraws the utskrivningsklar notice before it
        latest = max((r for r in ready if r < when), key=datetime.fromisoformat)
        withdrawn_notice = {"url": f"{SD}/lus-withdrawn-notice", "valueReference": {}}
        withdrawn_notice["valueReference"]["reference"] = readies[latest]
        notices.append(
            _notice(
                c.UTSKRIVNINGSKLAR_ATERKALLAD,
                when,
                stay,
                patient,
                [municipality],
                extension=[withdrawn_notice],
            )
        )
    notices += [
        _notice(c.UTSKRIVNINGSKLAR, s, stay, patient, [municipality], status="entered-in-error")
        for s in retracted
    ]
    notices.append(_notice(c.UTSKRIVNINGSMEDDELANDE, discharged, stay, patient, [municipality]))
    if about_only:  # the notices name the stay in `about` alone
        for n in notices:
            del n["encounter"]
    for n in notices:  # an utskrivningsklar notice under the fullUrl a withdrawal names
        ready_url = None
        if n["category"][0]["coding"][0]["code"] == c.UTSKRIVNINGSKLAR and n["status"] != (
            "entered-in-error"
        ):
            ready_url = readies.get(n["sent"])
        entries.append({"fullUrl": ready_url or _uuid(), "resource": n})
    if legacy is not None:
        return _import(legacy, entries)
    for entry in entries:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    answer = client.post(
        "/", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert answer.status_code == 200, answer.text
    location = answer.json()["entry"][1]["response"]["location"]
    return str(location.split("/")[1])


def _import(settings: Settings, entries: list[dict[str, Any]]) -> str:
    """Store the entries with `fhir-server import` (NDJSON, ids given); the Encounter's id."""
    ids = {e["fullUrl"]: e["fullUrl"].rsplit("-", 1)[1] for e in entries}
    text = json.dumps([e["resource"] for e in entries])
    for full_url, rid in ids.items():
        kind = next(e["resource"]["resourceType"] for e in entries if e["fullUrl"] == full_url)
        text = text.replace(f'"{full_url}"', f'"{kind}/{rid}"')
    resources = json.loads(text)
    for resource, full_url in zip(resources, ids, strict=True):
        resource["id"] = ids[full_url]
    path = settings.data_dir.parent / f"legacy-{resources[1]['id']}.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in resources), encoding="utf-8")
    store = (
        ["--database-url", settings.database_url]
        if settings.database_url
        else ["--data-dir", str(settings.data_dir)]
    )
    done = subprocess.run(
        [sys.executable, "-m", "fhir_server", "import", str(path), *store, "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return str(resources[1]["id"])


def municipality(client: TestClient, kommunkod: str) -> str:
    org = {
        "resourceType": "Organization",
        "identifier": [{"system": KOMMUN, "value": kommunkod}],
        "name": f"Kommun {kommunkod}",
    }
    answer = client.post("/Organization", json=org)
    assert answer.status_code == 201
    return f"Organization/{answer.json()['id']}"


@pytest.fixture
def stays(client: TestClient, settings: Settings) -> dict[str, str]:
    """February 2022 (daily amount 9 300 kr) in Kalmar (0880) and Stockholm (0180)."""
    kalmar, stockholm = municipality(client, "0880"), municipality(client, "0180")
    return {
        # A: somatic, ready 1 Feb 10:00, out 16:00 the same day: 0 days, a day-0 discharge
        "A": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-02-01T10:00:00+01:00"],
            discharged="2022-02-01T16:00:00+01:00",
        ),
        # B: somatic, ready Mon 7 Feb 13:00 (after 12:00), out Fri 11 Feb: 4 days
        "B": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-02-07T13:00:00+01:00"],
            discharged="2022-02-11T10:00:00+01:00",
        ),
        # C: somatic across the month boundary, 28 Jan → 3 Feb: 6 days, counts in February
        "C": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-01-28T09:00:00+01:00"],
            discharged="2022-02-03T11:00:00+01:00",
        ),
        # D: psychiatric, ready 1 Feb, withdrawn 3 Feb (2 days), ready 10 Feb, out 18 Feb
        # (8 days): 10 days over two clocks
        "D": load_stay(
            client,
            kalmar,
            "0880",
            care=c.PSYKIATRISK,
            ready=["2022-02-01T09:00:00+01:00", "2022-02-10T09:00:00+01:00"],
            withdrawn=["2022-02-03T09:00:00+01:00"],
            discharged="2022-02-18T09:00:00+01:00",
        ),
        # E: somatic, a notice of 14 Feb retracted; the real one 20 Feb, out 25 Feb: 5 days;
        # its notices name the stay in Communication.about only
        "E": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-02-20T09:00:00+01:00"],
            retracted=["2022-02-14T09:00:00+01:00"],
            discharged="2022-02-25T09:00:00+01:00",
            about_only=True,
        ),
        # F: Stockholm, somatic, 10 → 15 Feb: 5 days; no inskrivningsmeddelande (its
        # municipality is the notices' recipient)
        "F": load_stay(
            client,
            stockholm,
            "0180",
            ready=["2022-02-10T09:00:00+01:00"],
            discharged="2022-02-15T09:00:00+01:00",
            admission_notice=False,
            legacy=settings,
        ),
        # G: Kalmar, ready 25 Feb, out 2 Mar: 5 days (25 → 28 Feb is 3, then 2), in March
        "G": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-02-25T09:00:00+01:00"],
            discharged="2022-03-02T09:00:00+01:00",
        ),
        # H: Kalmar, across the spring-forward night of 27 Mar 2022: ready Sat 26 Mar 23:30
        # CET, out Tue 29 Mar 00:30 CEST (48 hours): 26 → 29 Mar = 3 days
        "H": load_stay(
            client,
            kalmar,
            "0880",
            ready=["2022-03-26T23:30:00+01:00"],
            discharged="2022-03-29T00:30:00+02:00",
        ),
    }


def _group(report: dict[str, Any], code: str) -> dict[str, Any]:
    (group,) = [g for g in report["group"] if g["code"]["coding"][0]["code"] == code]
    return group


def _score(report: dict[str, Any], code: str, care: str | None = None) -> Any:
    group = _group(report, code)
    if care is None:
        return group.get("measureScore", {}).get("value")
    for stratum in group["stratifier"][0]["stratum"]:
        if stratum["value"]["coding"][0]["code"] == care:
            return stratum.get("measureScore", {}).get("value")
    raise AssertionError(care)


def _count(report: dict[str, Any], code: str, population: str, care: str | None = None) -> int:
    group = _group(report, code)
    if care is not None:
        (group,) = [
            s for s in group["stratifier"][0]["stratum"] if s["value"]["coding"][0]["code"] == care
        ]
    (found,) = [p for p in group["population"] if p["code"]["coding"][0]["code"] == population]
    return int(found["count"])


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    (found,) = [e for e in resource["extension"] if e["url"] == url]
    return found


def test_utskrivningsklara_dagar_per_municipality_and_month(
    client: TestClient, stays: dict[str, str]
) -> None:
    answer = client.get("/$utskrivningsklara-dagar", params={"kommun": "0880", "month": "2022-02"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["resourceType"] == "MeasureReport"
    assert (report["status"], report["type"]) == ("complete", "summary")
    assert report["measure"].endswith("/Measure/lus-utskrivningsklara-dagar")
    assert report["period"] == {"start": "2022-02-01", "end": "2022-02-28"}
    assert report["reporter"]["identifier"] == {"system": KOMMUN, "value": "0880"}
    # somatic A 0 + B 4 + C 6 + E 5 = 15 over 4 stays (3.75); psychiatric D 10 over 1
    assert _score(report, "utskrivningsklara-dagar") == 25
    assert _score(report, "utskrivningsklara-dagar", c.SOMATISK) == 15
    assert _score(report, "utskrivningsklara-dagar", c.PSYKIATRISK) == 10
    assert _score(report, "medel-utskrivningsklara-dagar", c.SOMATISK) == 3.75
    assert _score(report, "medel-utskrivningsklara-dagar", c.PSYKIATRISK) == 10
    assert _score(report, "medel-utskrivningsklara-dagar") == 5  # 25 / 5
    assert _count(report, "utskrivna-dag-0", "numerator") == 1  # A
    assert _count(report, "utskrivna-dag-0", "denominator", c.SOMATISK) == 4
    assert _score(report, "utskrivna-dag-0", c.SOMATISK) == 0.25
    evaluated = {r["reference"] for r in report["evaluatedResource"]}
    assert evaluated == {f"Encounter/{stays[k]}" for k in "ABCDE"}

    # March: G (5 days, across the month boundary) and H (3 days, across the DST change)
    march = client.get(
        "/$utskrivningsklara-dagar",
        params={"kommun": "0880", "periodStart": "2022-03-01", "periodEnd": "2022-03-31"},
    ).json()
    assert _score(march, "utskrivningsklara-dagar", c.SOMATISK) == 8
    assert _count(march, "utskrivningsklara-dagar", "initial-population") == 2

    # every municipality: F (0180, 5 days) too
    everyone = client.get("/$utskrivningsklara-dagar", params={"month": "2022-02"}).json()
    assert _score(everyone, "utskrivningsklara-dagar") == 30
    assert "reporter" not in everyone
    stockholm = client.get(
        "/$utskrivningsklara-dagar", params={"month": "2022-02", "kommun": "0180"}
    ).json()
    assert _score(stockholm, "utskrivningsklara-dagar") == 5


@pytest.mark.parametrize(
    ("regelverk", "somatic", "psychiatric"),
    [
        # law: per clock max(0, k − 2): A 0, B 2, C 4, E 3 = 9; D 0 + 6 = 6
        ("lag", 9, 6),
        # Stockholm: B counts from 8 Feb (13:00 > 12:00): k = 0, 3, 6, 5 = 14, n = 4:
        # 14 − 2 × 4 = 6; psychiatry Σk = 10, n = 1: 10 − 5 = 5
        ("stockholm", 6, 5),
        # Kalmar: somatic average 15 / 4 = 3.75 > 3 → beyond 3 each: 0 + 1 + 3 + 2 = 6;
        # psychiatry beyond 20 per clock: 0
        ("kalmar", 6, 0),
        # Halland: somatic 15 − 2 × 4 = 7; psychiatric 10 − 2 = 8
        ("halland", 7, 8),
    ],
)
def test_betalningsansvar_under_each_rule_set(
    client: TestClient, stays: dict[str, str], regelverk: str, somatic: int, psychiatric: int
) -> None:
    answer = client.post(
        "/$betalningsansvar",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "kommun", "valueString": "0880"},
                {"name": "periodStart", "valueString": "2022-02-01"},
                {"name": "periodEnd", "valueString": "2022-02-28"},
                {"name": "regelverk", "valueString": regelverk},
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["measure"].endswith("/Measure/lus-betalningsansvar")
    assert _score(report, "debiterbara-dagar", c.SOMATISK) == somatic
    assert _score(report, "debiterbara-dagar", c.PSYKIATRISK) == psychiatric
    assert _score(report, "belopp") == (somatic + psychiatric) * 9300
    assert _group(report, "belopp")["measureScore"]["code"] == "SEK"
    rule_set = _extension(
        report, "https://lus.example.se/fhir/StructureDefinition/lus-report-rule-set"
    )
    parts = {e["url"]: e for e in rule_set["extension"]}
    assert parts["name"]["valueCode"] == regelverk
    assert parts["digest"]["valueString"].startswith("sha256:")
    amount = {e["url"]: e for e in parts["dailyAmount"]["extension"]}
    assert amount["year"]["valueInteger"] == 2022
    assert amount["amount"]["valueMoney"] == {"value": 9300, "currency": "SEK"}


def test_law_default_bills_nothing_where_the_region_did_not_do_its_part(
    client: TestClient, stays: dict[str, str]
) -> None:
    # F has no inskrivningsmeddelande: 5 days, nothing billable under the law; Kalmar's
    # rules have no such condition: average 5 > 3 → 5 − 3 = 2
    params = {"kommun": "0180", "month": "2022-02"}
    lag = client.get("/$betalningsansvar", params={**params, "regelverk": "lag"}).json()
    assert _score(lag, "utskrivningsklara-dagar") == 5
    assert _score(lag, "debiterbara-dagar") == 0 and _score(lag, "belopp") == 0
    kalmar = client.get("/$betalningsansvar", params={**params, "regelverk": "kalmar"}).json()
    assert _score(kalmar, "debiterbara-dagar") == 2
    # the default rule set is the law's
    default = client.get("/$betalningsansvar", params=params).json()
    rule_set = default["extension"][0]
    assert rule_set["extension"][0] == {"url": "name", "valueCode": "lag"}


def test_csv_for_swedish_excel(client: TestClient, stays: dict[str, str]) -> None:
    params = {"kommun": "0880", "month": "2022-02", "regelverk": "stockholm"}
    answer = client.get("/$betalningsansvar", params={**params, "_format": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert (
        "betalningsansvar-0880-2022-02-01-2022-02-28.csv" in answer.headers["content-disposition"]
    )
    assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark for Excel
    assert b"\r\n" in answer.content
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    per_stay = {r["vardtillfalle"]: r for r in rows if r["rad"] == "vardtillfalle"}
    assert set(per_stay) == {f"Encounter/{stays[k]}" for k in "ABCDE"}
    b = per_stay[f"Encounter/{stays['B']}"]
    # B: 4 national days, 3 under Stockholm's cut-off; the average model bills per group
    assert (b["utskrivningsklara_dagar"], b["dagar_enligt_regelverk"]) == ("4", "3")
    assert b["debiterbara_dagar"] == "" and b["utskrivna_dag_0"] == "nej"
    assert per_stay[f"Encounter/{stays['A']}"]["utskrivna_dag_0"] == "ja"
    assert b["regelverk"] == "stockholm" and b["kontrollsumma"].startswith("sha256:")
    (somatic,) = [r for r in rows if r["rad"] == "summa" and r["vardform"] == c.SOMATISK]
    assert somatic["medel_utskrivningsklara_dagar"] == "3,75"  # decimal comma
    assert (somatic["debiterbara_dagar"], somatic["belopp_kr"]) == ("6", str(6 * 9300))
    (everything,) = [r for r in rows if r["rad"] == "summa" and r["vardform"] == "alla"]
    assert (everything["vardtillfallen"], everything["belopp_kr"]) == ("5", str(11 * 9300))
    # Accept: text/csv works as well; the indicator report as CSV has no money columns
    indicator = client.get(
        "/$utskrivningsklara-dagar",
        params={"kommun": "0880", "month": "2022-02"},
        headers={"Accept": "text/csv"},
    )
    assert indicator.status_code == 200
    lines = indicator.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("rad;vardtillfalle;kommun;vardform")
    assert all(row.split(";")[14] == "" for row in lines[1:])


def test_a_rerun_as_of_the_same_instant_gives_the_same_report(
    client: TestClient, stays: dict[str, str]
) -> None:
    params = {"kommun": "0880", "month": "2022-02", "regelverk": "lag"}
    first = client.get("/$betalningsansvar", params=params).json()
    as_of = _extension(first, "https://lus.example.se/fhir/StructureDefinition/lus-report-as-of")
    moment = as_of["valueInstant"]
    assert first["date"] == moment
    # by default the report is as of the newest change stored
    newest = client.get("/_history", params={"_count": "1"}).json()["entry"][0]["resource"]
    assert datetime.fromisoformat(moment) == datetime.fromisoformat(
        newest["meta"]["lastUpdated"].replace("Z", "+00:00")
    )
    # later: B's utskrivningsklar notice is retracted, C's discharge corrected into March,
    # and a new February stay is loaded
    notices = client.get(
        "/Communication", params={"encounter": f"Encounter/{stays['B']}", "_count": "50"}
    ).json()
    for entry in notices["entry"]:
        notice = entry["resource"]
        if notice["category"][0]["coding"][0]["code"] == c.UTSKRIVNINGSKLAR:
            notice["status"] = "entered-in-error"
            assert client.put(f"/Communication/{notice['id']}", json=notice).status_code == 200
    encounter = client.get(f"/Encounter/{stays['C']}").json()
    encounter["period"]["end"] = "2022-03-01T10:00:00+01:00"
    assert client.put(f"/Encounter/{stays['C']}", json=encounter).status_code == 200
    kalmar = client.get("/Organization", params={"identifier": f"{KOMMUN}|0880"}).json()
    load_stay(
        client,
        f"Organization/{kalmar['entry'][0]['resource']['id']}",
        "0880",
        ready=["2022-02-21T09:00:00+01:00"],
        discharged="2022-02-28T09:00:00+01:00",
    )
    again = client.get("/$betalningsansvar", params={**params, "asOf": moment}).json()
    assert again == first
    # now: B is no longer utskrivningsklar, C counts in March, the new stay (7 days: 5
    # billable) counts: somatic A 0 + E 3 + new 5 = 8; D 6
    now = client.get("/$betalningsansvar", params=params).json()
    assert _score(now, "debiterbara-dagar", c.SOMATISK) == 8
    assert _score(now, "debiterbara-dagar", c.PSYKIATRISK) == 6


@pytest.mark.parametrize(
    ("operation", "params", "expression", "words"),
    [
        ("betalningsansvar", {"month": "2022-02", "regelverk": "uppsala"}, "regelverk", "uppsala"),
        ("betalningsansvar", {"month": "2026-02"}, "periodStart", "2026"),
        (
            "betalningsansvar",
            {"periodStart": "2021-12-01", "periodEnd": "2022-01-31"},
            "periodStart",
            "2021",
        ),
        ("utskrivningsklara-dagar", {"month": "2022-13"}, "month", "2022-13"),
        (
            "utskrivningsklara-dagar",
            {"periodStart": "2022-02-10", "periodEnd": "2022-02-01"},
            "periodEnd",
            "before",
        ),
        ("utskrivningsklara-dagar", {"periodStart": "2022-02-01"}, "periodEnd", "period"),
        (
            "utskrivningsklara-dagar",
            {"periodStart": "1 feb", "periodEnd": "2022-02-01"},
            "periodStart",
            "date",
        ),
        (
            "utskrivningsklara-dagar",
            {"month": "2022-02", "periodStart": "2022-02-01"},
            "month",
            "either",
        ),
        ("utskrivningsklara-dagar", {"month": "2022-02", "kommun": "Kalmar"}, "kommun", "4"),
        (
            "utskrivningsklara-dagar",
            {"month": "2022-02", "regelverk": "lag"},
            "regelverk",
            "$betalningsansvar",
        ),
        (
            "utskrivningsklara-dagar",
            {"month": "2022-02", "asOf": "2999-01-01T00:00:00Z"},
            "asOf",
            "future",
        ),
        (
            "utskrivningsklara-dagar",
            {"month": "2022-02", "asOf": "2022-03-01"},
            "asOf",
            "time zone",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    client: TestClient, operation: str, params: dict[str, str], expression: str, words: str
) -> None:
    answer = client.get(f"/${operation}", params=params)
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["expression"] == [expression]
    assert words in issue["diagnostics"]


def test_other_formats_are_refused(client: TestClient) -> None:
    answer = client.get("/$utskrivningsklara-dagar", params={"month": "2022-02", "_format": "xml"})
    assert answer.status_code == 406
    # CSV is only offered by the reports
    assert client.get("/Patient", params={"_format": "text/csv"}).status_code == 406


def test_the_report_is_valid_fhir_and_its_measure_is_published(
    tmp_path: Path, stays: dict[str, str], client: TestClient
) -> None:
    report = client.get(
        "/$betalningsansvar", params={"month": "2022-02", "regelverk": "kalmar"}
    ).json()
    outcome = client.post("/MeasureReport/$validate", json=report).json()
    errors = [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]
    assert not errors, errors
    published = Settings(data_dir=tmp_path / "published", insecure_no_auth=True)
    with TestClient(create_app(published)) as fresh:
        for url in (report["measure"], MEASURE_DAYS):
            found = fresh.get("/Measure", params={"url": url}).json()
            assert found["total"] == 1, url
        operations = fresh.get("/OperationDefinition", params={"code": "betalningsansvar"})
        assert operations.json()["total"] == 1
        statement = fresh.get("/metadata").json()
        offered = {o["name"]: o["definition"] for o in statement["rest"][0]["operation"]}
        assert offered["betalningsansvar"].endswith("/OperationDefinition/lus-betalningsansvar")


def _sip_task(client: TestClient, stay: str, status: str, done: str | None) -> None:
    """The fast vårdkontakt's obligation as a primary-care system would record it (the
    stays here are addressed to the municipality only, so the server made none)."""
    encounter = client.get(f"/Encounter/{stay}").json()
    query = {"encounter": f"Encounter/{stay}", "category": c.UTSKRIVNINGSKLAR}
    ready = client.get("/Communication", params=query).json()["entry"][0]["resource"]
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": c.TASK_TYPE, "code": c.KALLA_TILL_SIP}]},
        "for": encounter["subject"],
        "encounter": {"reference": f"Encounter/{stay}"},
        "focus": {"reference": f"Communication/{ready['id']}"},
        "owner": {"reference": "Organization/vc"},
        "authoredOn": ready["sent"],
        "restriction": {"period": {"end": "2019-05-09T10:00:00+02:00"}},
    }
    if done:
        task["executionPeriod"] = {"end": done}
    answer = client.post("/Task", json=task)
    assert answer.status_code == 201, answer.text


def test_the_law_default_reads_the_sip_call_tasks(client: TestClient) -> None:
    kalmar = municipality(client, "0880")
    # four somatic stays, each ready Mon 6 May 2019 10:00 and out Mon 13 May: 7 days, 5
    # billable under the law when the SIP call (deadline 9 May 10:00) was made in time
    ready, out = ["2019-05-06T10:00:00+02:00"], "2019-05-13T10:00:00+02:00"
    in_time, late, never, none = (
        load_stay(client, kalmar, "0880", ready=ready, discharged=out) for _ in range(4)
    )
    _sip_task(client, in_time, "completed", "2019-05-08T15:00:00+02:00")
    _sip_task(client, late, "completed", "2019-05-10T09:00:00+02:00")
    _sip_task(client, never, "in-progress", None)
    params = {"month": "2019-05", "regelverk": "lag", "_format": "text/csv"}
    answer = client.get("/$betalningsansvar", params=params)
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    billed = {
        r["vardtillfalle"].split("/")[1]: (r["regionen_gjort_sin_del"], r["debiterbara_dagar"])
        for r in rows
        if r["rad"] == "vardtillfalle"
    }
    assert billed == {
        in_time: ("ja", "5"),
        late: ("nej", "0"),
        never: ("nej", "0"),
        none: ("ja", "5"),  # no SIP call was needed
    }
    (total,) = [r for r in rows if r["rad"] == "summa" and r["vardform"] == "alla"]
    assert total["belopp_kr"] == str(10 * 7800)  # 2019: 7 800 kr per day


def test_a_stay_counts_only_once_finished_and_not_when_entered_in_error(
    client: TestClient,
) -> None:
    kalmar = municipality(client, "0880")
    # ready 6 May 2019, out 9 May: 3 days
    stay = load_stay(
        client,
        kalmar,
        "0880",
        ready=["2019-05-06T10:00:00+02:00"],
        discharged="2019-05-09T10:00:00+02:00",
    )
    params = {"month": "2019-05"}

    def days() -> Any:
        report = client.get("/$utskrivningsklara-dagar", params=params).json()
        return _score(report, "utskrivningsklara-dagar")

    assert days() == 3
    encounter = client.get(f"/Encounter/{stay}").json()
    encounter["status"] = "entered-in-error"
    assert client.put(f"/Encounter/{stay}", json=encounter).status_code == 200
    assert days() == 0
    # still in progress with a planned end: its utskrivningsmeddelande (9 May) discharges it
    encounter["status"] = "in-progress"
    encounter["period"]["end"] = "2019-05-20T10:00:00+02:00"
    assert client.put(f"/Encounter/{stay}", json=encounter).status_code == 200
    assert days() == 3
