"""The figures as a FHIR MeasureReport and as CSV for spreadsheet users.

MeasureReport (summary, status complete): one group per figure, each stratified by care
type (somatisk / psykiatrisk); the rule set (name, title, its parameters, a sha256 digest
over them and the daily amounts used), the as-of instant and the municipality in
extensions; the stays it counted in `evaluatedResource`.

CSV: what Swedish Excel opens as columns on a double click: `;` between fields, decimal
comma, UTF-8 with a byte-order mark, CRLF line ends (RFC 4180 quoting). One row per stay,
one per group (municipality, care type, month: where the average and threshold models
decide), one summary row per care type and one for all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import orjson

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import swedish, swedish_date
from fhir_server.transitions.reports.liability import Group, Totals, totals
from fhir_server.transitions.reports.rule_sets import RuleBook, RuleSet

MEASURE_DAYS = f"{CANONICAL_BASE}/Measure/lus-utskrivningsklara-dagar"
MEASURE_LIABILITY = f"{CANONICAL_BASE}/Measure/lus-betalningsansvar"
FIGURE = f"{CANONICAL_BASE}/CodeSystem/lus-report-figure"
RULE_SET_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-report-rule-set"
AS_OF_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-report-as-of"
KOMMUN_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-report-kommun"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
UCUM = "http://unitsofmeasure.org"
CURRENCY = "urn:iso:std:iso:4217"

CARE_DISPLAY = {c.SOMATISK: "Somatisk vård", c.PSYKIATRISK: "Psykiatrisk vård"}
FIGURE_DISPLAY = {
    "utskrivningsklara-dagar": "Utskrivningsklara dagar",
    "medel-utskrivningsklara-dagar": "Utskrivningsklara dagar i genomsnitt per vårdtillfälle",
    "utskrivna-dag-0": "Utskrivna dag 0",
    "debiterbara-dagar": "Debiterbara dagar",
    "belopp": "Belopp",
}


@dataclass(frozen=True)
class Basis:
    """What produced a report: its parameters and the rule set."""

    first: date
    last: date
    kommun: str | None
    as_of: datetime
    rule_book: RuleBook
    rule_set: RuleSet | None  # None: the indicator report, no liability

    def years(self) -> list[int]:
        return list(range(self.first.year, self.last.year + 1))

    def digest(self) -> str | None:
        if self.rule_set is None:
            return None
        return self.rule_book.digest(self.rule_set, self.years())


def as_of_instant(moment: datetime) -> str:
    """The as-of instant to the microsecond, so that passing it back as asOf reads exactly
    the same store (seconds alone would leave out writes of that last second)."""
    return swedish(moment).isoformat(timespec="microseconds")


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}


def _days(value: int | Fraction) -> dict[str, Any]:
    number: int | float = value if isinstance(value, int) else round(float(value), 2)
    return {"value": number, "unit": "dagar", "system": UCUM, "code": "d"}


def _kronor(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "kr", "system": CURRENCY, "code": "SEK"}


def _figure(code: str, of: Totals) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The populations and score of one figure over some stays."""
    stays = _population("initial-population", of.stays)
    if code == "utskrivningsklara-dagar":
        return [stays], _days(of.dagar)
    if code == "medel-utskrivningsklara-dagar":
        average = of.average
        return [stays, _population("measure-population", of.stays)], (
            None if average is None else _days(average)
        )
    if code == "utskrivna-dag-0":
        populations = [
            stays,
            _population("denominator", of.stays),
            _population("numerator", of.day_zero),
        ]
        score = (
            None
            if not of.stays
            else {"value": round(of.day_zero / of.stays, 4), "unit": "1", "system": UCUM}
        )
        return populations, score
    if code == "debiterbara-dagar":
        return [stays], _days(of.billable)
    assert code == "belopp"
    return [stays], _kronor(of.amount)


def _group(code: str, found: list[Group]) -> dict[str, Any]:
    populations, score = _figure(code, totals(found))
    group: dict[str, Any] = {
        "code": _coding(FIGURE, code, FIGURE_DISPLAY[code]),
        "population": populations,
    }
    if score is not None:
        group["measureScore"] = score
    strata = []
    for care_type in CARE_DISPLAY:
        care_populations, care_score = _figure(code, totals(found, care_type))
        stratum: dict[str, Any] = {
            "value": _coding(c.CARE_TYPE, care_type, CARE_DISPLAY[care_type]),
            "population": care_populations,
        }
        if care_score is not None:
            stratum["measureScore"] = care_score
        strata.append(stratum)
    group["stratifier"] = [{"code": [{"text": "vårdform"}], "stratum": strata}]
    return group


def _rule_set_extension(basis: Basis) -> dict[str, Any]:
    rule_set = basis.rule_set
    assert rule_set is not None
    parts: list[dict[str, Any]] = [
        {"url": "name", "valueCode": rule_set.name},
        {"url": "title", "valueString": rule_set.title},
        {
            "url": "parameters",
            "valueString": orjson.dumps(rule_set.source, option=orjson.OPT_SORT_KEYS).decode(),
        },
        {"url": "digest", "valueString": basis.digest()},
    ]
    for year in basis.years():
        amount = basis.rule_book.daily_amounts[year]
        parts.append(
            {
                "url": "dailyAmount",
                "extension": [
                    {"url": "year", "valueInteger": year},
                    {"url": "amount", "valueMoney": {"value": amount, "currency": "SEK"}},
                ],
            }
        )
    return {"url": RULE_SET_EXTENSION, "extension": parts}


def measure_report(basis: Basis, found: list[Group]) -> dict[str, Any]:
    liability = basis.rule_set is not None
    extensions: list[dict[str, Any]] = [
        {"url": AS_OF_EXTENSION, "valueInstant": as_of_instant(basis.as_of)}
    ]
    if liability:
        extensions.insert(0, _rule_set_extension(basis))
    if basis.kommun is not None:
        extensions.append(
            {"url": KOMMUN_EXTENSION, "valueCoding": {"system": c.KOMMUNKOD, "code": basis.kommun}}
        )
    figures = ["utskrivningsklara-dagar", "medel-utskrivningsklara-dagar", "utskrivna-dag-0"]
    if liability:
        figures += ["debiterbara-dagar", "belopp"]
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "extension": extensions,
        "status": "complete",
        "type": "summary",
        "measure": MEASURE_LIABILITY if liability else MEASURE_DAYS,
        "date": as_of_instant(basis.as_of),
        "period": {"start": basis.first.isoformat(), "end": basis.last.isoformat()},
    }
    if basis.kommun is not None:
        report["reporter"] = {
            "identifier": {"system": c.KOMMUNKOD, "value": basis.kommun},
            "display": f"Kommun {basis.kommun}",
        }
    report["group"] = [_group(code, found) for code in figures]
    stays = sorted(f.stay.reference for g in found for f in g.stays)
    if stays:
        report["evaluatedResource"] = [{"reference": ref} for ref in stays]
    return report


# ── CSV ─────────────────────────────────────────────────────────────────────────────────

COLUMNS = [
    "rad",
    "vardtillfalle",
    "kommun",
    "vardform",
    "manad",
    "utskriven",
    "vardtillfallen",
    "utskrivningsklara_dagar",
    "medel_utskrivningsklara_dagar",
    "utskrivna_dag_0",
    "dagar_enligt_regelverk",
    "regionen_gjort_sin_del",
    "debiterbara_dagar",
    "dagbelopp_kr",
    "belopp_kr",
    "regelverk",
    "kontrollsumma",
    "per_tidpunkt",
]


def _decimal(value: Fraction | None) -> str:
    """A number as Swedish Excel reads it: decimal comma, two decimals."""
    return "" if value is None else f"{float(value):.2f}".replace(".", ",")


def _yes(value: bool) -> str:
    return "ja" if value else "nej"


def csv_report(basis: Basis, found: list[Group]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    liability = basis.rule_set is not None
    tail = [
        basis.rule_set.name if basis.rule_set else "",
        basis.digest() or "",
        as_of_instant(basis.as_of),
    ]

    def money(value: int | None) -> str:
        return "" if not liability or value is None else str(value)

    for group in found:
        for f in group.stays:
            writer.writerow(
                [
                    "vardtillfalle",
                    f.stay.reference,
                    group.kommun,
                    group.care_type,
                    group.month,
                    swedish_date(f.stay.discharged).isoformat(),
                    1,
                    f.dagar,
                    "",
                    _yes(f.day_zero),
                    f.counted if liability else "",
                    _yes(f.region_ok) if liability else "",
                    money(f.billable),
                    money(group.daily_amount),
                    money(None if f.billable is None else f.billable * (group.daily_amount or 0)),
                    *tail,
                ]
            )
    for group in found:
        of = totals([group])
        writer.writerow(
            [
                "grupp",
                "",
                group.kommun,
                group.care_type,
                group.month,
                "",
                of.stays,
                of.dagar,
                _decimal(of.average),
                of.day_zero,
                sum(f.counted for f in group.stays) if liability else "",
                "",
                money(group.billable),
                money(group.daily_amount),
                money(group.amount),
                *tail,
            ]
        )
    for care_type in (*CARE_DISPLAY, None):
        of = totals(found, care_type)
        writer.writerow(
            [
                "summa",
                "",
                basis.kommun or "alla",
                care_type or "alla",
                f"{basis.first.isoformat()}--{basis.last.isoformat()}",
                "",
                of.stays,
                of.dagar,
                _decimal(of.average),
                of.day_zero,
                "",
                "",
                money(of.billable),
                "",
                money(of.amount),
                *tail,
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
