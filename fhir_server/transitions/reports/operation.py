"""$utskrivningsklara-dagar and $betalningsansvar: the LUS reports as system-level
operations answering a MeasureReport (or CSV with `_format=text/csv` / `Accept: text/csv`).

Parameters (GET query or POST Parameters), named as Measure/$evaluate-measure names them
where it has one:
  periodStart, periodEnd  dates (YYYY-MM-DD, Swedish calendar days, both inclusive); or
  month                   YYYY-MM, the whole month
  kommun                  kommunkod (4 digits); absent: every municipality
  regelverk               the rule set ($betalningsansvar only); absent: the configured default
  asOf                    the instant whose store is reported (default: the newest change
                          stored, extract.newest_change); a rerun with the same parameters
                          and asOf gives the same report
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from pathlib import Path

from starlette.responses import Response

from fhir_server.auth.access import require
from fhir_server.auth.scopes import SEARCH
from fhir_server.outcome import FhirError, Issue, bad_request
from fhir_server.rest.negotiation import CSV
from fhir_server.rest.operations import SYSTEM, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.transitions.clock import now
from fhir_server.transitions.reports import rule_sets
from fhir_server.transitions.reports.extract import Snapshot, discharged_stays, newest_change
from fhir_server.transitions.reports.liability import MissingDailyAmount, groups
from fhir_server.transitions.reports.report import Basis, csv_report, measure_report

DEFINITIONS = "https://lus.example.se/fhir/OperationDefinition/"
READS = ("Encounter", "Communication", "Task")
_KOMMUNKOD = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
MAX_DAYS = 366


def _text(invocation: Invocation, name: str) -> str | None:
    value = invocation.value(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Parameter '{name}' must be text, not {value!r}", name)
    return value.strip()


def _date(invocation: Invocation, name: str) -> date | None:
    text = _text(invocation, name)
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name}={text} is not a date (YYYY-MM-DD)", name) from None


def period(invocation: Invocation) -> tuple[date, date]:
    month = _text(invocation, "month")
    first, last = _date(invocation, "periodStart"), _date(invocation, "periodEnd")
    if month is not None:
        if first is not None or last is not None:
            raise bad_request("Give either month or periodStart and periodEnd, not both", "month")
        match = _MONTH.fullmatch(month)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise bad_request(f"month={month} is not a month (YYYY-MM)", "month")
        year, number = int(match.group(1)), int(match.group(2))
        return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    if first is None or last is None:
        missing = "periodStart" if first is None else "periodEnd"
        raise bad_request(
            "The report needs a period: periodStart and periodEnd (dates), or month", missing
        )
    if last < first:
        raise bad_request(f"periodEnd {last} is before periodStart {first}", "periodEnd")
    if (last - first).days >= MAX_DAYS:
        raise bad_request(f"A report covers at most {MAX_DAYS} days", "periodEnd")
    return first, last


def _kommun(invocation: Invocation) -> str | None:
    kommun = _text(invocation, "kommun")
    if kommun is not None and not _KOMMUNKOD.fullmatch(kommun):
        raise bad_request(f"kommun={kommun} is not a kommunkod (4 digits)", "kommun")
    return kommun


async def _as_of(invocation: Invocation) -> datetime:
    text = _text(invocation, "asOf")
    current = now()
    if text is None:
        newest = await newest_change(invocation.call.runtime.storage)
        return current if newest is None else min(newest, current)
    if not _INSTANT.fullmatch(text):
        raise bad_request(f"asOf={text} is not an instant with a time zone", "asOf")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment > current:
        raise bad_request(f"asOf={text} is in the future: later writes could change it", "asOf")
    return moment


def rule_book(invocation: Invocation) -> rule_sets.RuleBook:
    configured = invocation.call.runtime.settings.report_rule_sets
    try:
        return rule_sets.load(Path(configured) if configured else None)
    except rule_sets.RuleSetError as exc:
        raise FhirError(500, [Issue("error", "exception", str(exc))]) from exc


async def _report(invocation: Invocation, liability: bool) -> Response:
    call = invocation.call
    for resource_type in READS:
        require(call.context, resource_type, SEARCH)
    first, last = period(invocation)
    kommun = _kommun(invocation)
    book = rule_book(invocation)
    rule_set = None
    if liability:
        name = _text(invocation, "regelverk")
        if name is not None and name not in book.rule_sets:
            known = ", ".join(sorted(book.rule_sets))
            raise bad_request(f"regelverk={name} is not a known rule set ({known})", "regelverk")
        rule_set = book.get(name)
        missing = [y for y in range(first.year, last.year + 1) if y not in book.daily_amounts]
        if missing:
            raise _missing_amount(missing)
    elif invocation.values("regelverk"):
        raise bad_request(
            "$utskrivningsklara-dagar takes no regelverk: the indicator counts calendar days"
            " from the notice; payment liability is $betalningsansvar",
            "regelverk",
        )
    as_of = await _as_of(invocation)
    snapshot = Snapshot(call.runtime.storage, call.context, as_of)
    stays = await discharged_stays(snapshot, first, last, kommun)
    basis = Basis(first, last, kommun, as_of, book, rule_set)
    try:
        found = groups(
            stays,
            rule_set or book.get(None),
            book.daily_amounts if liability else None,
        )
    except MissingDailyAmount as exc:
        raise _missing_amount(exc.years) from exc
    if call.negotiated.media_type == CSV:
        name = "betalningsansvar" if liability else "utskrivningsklara-dagar"
        filename = f"{name}-{kommun or 'alla'}-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            csv_report(basis, found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return json_response(measure_report(basis, found), call.negotiated)


def _missing_amount(years: list[int]) -> FhirError:
    listed = ", ".join(str(y) for y in years)
    return bad_request(
        f"No daily amount (belopp per vårddygn) is configured for {listed}: add it to the rule"
        " sets file (daily_amounts) from Socialstyrelsen's regulation for that year",
        "periodStart",
    )


async def utskrivningsklara_dagar(invocation: Invocation) -> Response:
    return await _report(invocation, liability=False)


async def betalningsansvar(invocation: Invocation) -> Response:
    return await _report(invocation, liability=True)


OPERATIONS = [
    Operation(
        name="utskrivningsklara-dagar",
        handler=utskrivningsklara_dagar,
        levels=frozenset({SYSTEM}),
        definition=f"{DEFINITIONS}lus-utskrivningsklara-dagar",
        documentation="LUS: utskrivningsklara dagar per stay and on average, somatic and"
        " psychiatric, and stays discharged on day 0, per municipality and period"
        " (MeasureReport, or CSV)",
        permissions="",  # checked in the handler: search on Encounter, Communication, Task
        media_types=frozenset({CSV}),
    ),
    Operation(
        name="betalningsansvar",
        handler=betalningsansvar,
        levels=frozenset({SYSTEM}),
        definition=f"{DEFINITIONS}lus-betalningsansvar",
        documentation="LUS: payment liability (billable days and amount) under a rule set,"
        " per municipality and period (MeasureReport, or CSV)",
        permissions="",
        media_types=frozenset({CSV}),
    ),
]
