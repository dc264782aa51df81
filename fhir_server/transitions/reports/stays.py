"""A discharged stay as the reports see it, and its utskrivningsklar periods.

Plain data, no store: extraction (extract.py) fills it from the Encounter, its
Communications and its kalla-till-sip Tasks. Every day is a Swedish calendar day
(clock.swedish_date), so a daylight-saving change never adds or removes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import swedish, swedish_date


@dataclass(frozen=True)
class Notice:
    reference: str  # Communication/id
    code: str  # lus-notice-type
    sent: datetime  # aware
    retracted: bool = False  # status entered-in-error: does not count


@dataclass(frozen=True)
class SipCall:
    """A kalla-till-sip Task of the stay."""

    reference: str  # Task/id
    status: str
    deadline: datetime | None  # restriction.period.end
    done: datetime | None  # executionPeriod.end (else lastModified) when completed


@dataclass(frozen=True)
class Stay:
    reference: str  # Encounter/id
    care_type: str  # lus-care-type
    kommun: str  # kommunkod of the patient's municipality, "" when not known
    discharged: datetime  # Encounter.period.end, else the utskrivningsmeddelande
    notices: tuple[Notice, ...] = ()
    sip_calls: tuple[SipCall, ...] = ()

    @property
    def discharge_date(self) -> date:
        return swedish_date(self.discharged)

    @property
    def month(self) -> str:
        """The calendar month the stay counts in: that of its discharge date."""
        return self.discharge_date.strftime("%Y-%m")


@dataclass(frozen=True)
class Period:
    """One utskrivningsklar period: from the notice to a withdrawal or the discharge."""

    start: datetime
    end: datetime
    ends_in_discharge: bool


def live(notices: tuple[Notice, ...]) -> list[Notice]:
    return sorted((n for n in notices if not n.retracted), key=lambda n: (n.sent, n.reference))


def periods(stay: Stay) -> list[Period]:
    """The stay's utskrivningsklar periods in order. A second utskrivningsklar while one is
    open changes nothing (the clock already runs); a withdrawal without an open period is
    ignored; notices after the discharge do not count."""
    found: list[Period] = []
    open_since: datetime | None = None
    for notice in live(stay.notices):
        if notice.sent > stay.discharged:
            break
        if notice.code == c.UTSKRIVNINGSKLAR and open_since is None:
            open_since = notice.sent
        elif notice.code == c.UTSKRIVNINGSKLAR_ATERKALLAD and open_since is not None:
            found.append(Period(open_since, notice.sent, False))
            open_since = None
    if open_since is not None:
        found.append(Period(open_since, stay.discharged, True))
    return found


def day_zero(start: datetime, cutoff: time | None) -> date:
    """Day 0 of a period: the Swedish date of the notice, or the next day when it was sent
    after the cut-off (local wall-clock time, strictly after)."""
    day = swedish_date(start)
    if cutoff is not None and swedish(start).time().replace(tzinfo=None) > cutoff:
        day += timedelta(days=1)
    return day


def days(period: Period, cutoff: time | None = None) -> int:
    """Calendar days from day 0 to the period's end (0 when it ends on day 0 or before)."""
    return max(0, (swedish_date(period.end) - day_zero(period.start, cutoff)).days)


def utskrivningsklara_dagar(stay: Stay) -> int:
    """The national indicator: calendar days in hospital after the utskrivningsklar notice,
    summed over the stay's periods (day 0 = the date of the notice, whatever the time)."""
    return sum(days(p) for p in periods(stay))


def discharged_on_day_zero(stay: Stay) -> bool:
    """The last clock ended in the discharge on the day of its notice."""
    found = periods(stay)
    return bool(found) and found[-1].ends_in_discharge and days(found[-1]) == 0


def region_did_its_part(stay: Stay, conditions: tuple[str, ...]) -> bool:
    """The conditions a rule set puts on the region (rule_sets.CONDITIONS)."""
    notices = live(stay.notices)
    if c.INSKRIVNINGSMEDDELANDE in conditions and not any(
        n.code == c.INSKRIVNINGSMEDDELANDE and n.sent <= stay.discharged for n in notices
    ):
        return False
    if c.KALLA_TILL_SIP in conditions:
        for call in stay.sip_calls:
            if call.status in ("cancelled", "entered-in-error", "rejected"):
                continue
            if call.status != "completed" or call.done is None:
                return False
            if call.deadline is not None and call.done > call.deadline:
                return False
    return True
