"""The report figures, computed by hand: day 0, the 12:00 cut-off, month boundaries,
daylight-saving changes, withdrawals, retractions, the region's part, and each rule set."""

from __future__ import annotations

from datetime import datetime

import pytest

from fhir_server.transitions import codes as c
from fhir_server.transitions.clock import instant
from fhir_server.transitions.reports import rule_sets
from fhir_server.transitions.reports.liability import (
    MissingDailyAmount,
    figures,
    groups,
    totals,
)
from fhir_server.transitions.reports.stays import Notice, SipCall, Stay, periods

BOOK = rule_sets.load()
LAG, STOCKHOLM = BOOK.get("lag"), BOOK.get("stockholm")
KALMAR, HALLAND = BOOK.get("kalmar"), BOOK.get("halland")

_counter = iter(range(1, 10_000))


def notice(code: str, sent: str, retracted: bool = False) -> Notice:
    return Notice(f"Communication/n{next(_counter)}", code, instant(sent), retracted)


def stay(
    ready: list[str] | str,
    discharged: str,
    *,
    care: str = c.SOMATISK,
    kommun: str = "0880",
    withdrawn: list[str] = (),  # type: ignore[assignment]
    admitted_notice: str | None = "2019-01-01T08:00:00+01:00",
    extra: tuple[Notice, ...] = (),
    sip: tuple[SipCall, ...] = (),
) -> Stay:
    """A stay: utskrivningsklar notices at `ready`, withdrawals at `withdrawn`, an
    inskrivningsmeddelande (early enough for every test) unless None."""
    sent = [ready] if isinstance(ready, str) else ready
    notices = [notice(c.UTSKRIVNINGSKLAR, s) for s in sent]
    notices += [notice(c.UTSKRIVNINGSKLAR_ATERKALLAD, s) for s in withdrawn]
    if admitted_notice:
        notices.append(notice(c.INSKRIVNINGSMEDDELANDE, admitted_notice))
    return Stay(
        f"Encounter/s{next(_counter)}",
        care,
        kommun,
        instant(discharged),
        (*notices, *extra),
        sip,
    )


def one(s: Stay, rule_set: rule_sets.RuleSet) -> int:
    """The billable days of one stay alone in its group."""
    (group,) = groups([s], rule_set, None)
    return group.billable


# ── the national indicator ──────────────────────────────────────────────────────────────


def test_day_zero_discharge() -> None:
    # notice Mon 16 Feb 09:00, discharged the same day 15:00: 16 − 16 = 0 days
    s = stay("2026-02-16T09:00:00+01:00", "2026-02-16T15:00:00+01:00")
    found = figures(s, LAG)
    assert found is not None
    assert (found.dagar, found.day_zero, found.billable) == (0, True, 0)
    # under every rule set a day-0 discharge bills nothing
    assert [one(s, r) for r in (LAG, STOCKHOLM, KALMAR, HALLAND)] == [0, 0, 0, 0]


def test_days_are_calendar_days_not_24_hour_periods() -> None:
    # notice 16 Feb 23:50, discharged 17 Feb 00:10 (20 minutes later): 17 − 16 = 1 day
    s = stay("2026-02-16T23:50:00+01:00", "2026-02-17T00:10:00+01:00")
    found = figures(s, LAG)
    assert found is not None and (found.dagar, found.day_zero) == (1, False)


def test_a_stay_across_a_month_boundary_counts_whole_in_its_discharge_month() -> None:
    # notice Fri 30 Jan 10:00, discharged Mon 2 Feb 09:00: days 31 Jan, 1 Feb, 2 Feb = 3
    s = stay("2026-01-30T10:00:00+01:00", "2026-02-02T09:00:00+01:00")
    (group,) = groups([s], LAG, None)
    assert group.month == "2026-02"
    assert group.stays[0].dagar == 3
    # law: days 0, 1, 2 free, day 3 (2 Feb) billable: 3 − 2 = 1
    assert group.billable == 1


def test_spring_forward_2026_03_29() -> None:
    # notice Sat 28 Mar 23:30 CET (22:30Z), discharged Tue 31 Mar 00:30 CEST (30 Mar 22:30Z):
    # 48 elapsed hours, but Swedish dates 28 → 31 Mar = 3 days (UTC dates would give 2)
    s = stay("2026-03-28T23:30:00+01:00", "2026-03-31T00:30:00+02:00")
    found = figures(s, LAG)
    assert found is not None and found.dagar == 3
    assert one(s, LAG) == 1  # 3 − 2
    # the same instants written in UTC give the same figures
    z = stay("2026-03-28T22:30:00Z", "2026-03-30T22:30:00Z")
    assert figures(z, LAG).dagar == 3  # type: ignore[union-attr]


def test_fall_back_2026_10_25() -> None:
    # notice Sat 24 Oct 00:30 CEST (23 Oct 22:30Z), discharged Mon 26 Oct 23:30 CET
    # (22:30Z): 73 elapsed hours; Swedish dates 24 → 26 Oct = 2 days (UTC dates: 3)
    s = stay("2026-10-23T22:30:00Z", "2026-10-26T22:30:00Z")
    found = figures(s, LAG)
    assert found is not None and found.dagar == 2
    assert one(s, LAG) == 0  # 2 − 2
    # the repeated hour: 02:30 exists twice on 25 Oct; either one is day 25 Oct
    first = stay("2026-10-25T02:30:00+02:00", "2026-10-28T10:00:00+01:00")
    second = stay("2026-10-25T02:30:00+01:00", "2026-10-28T10:00:00+01:00")
    assert figures(first, LAG).dagar == figures(second, LAG).dagar == 3  # type: ignore[union-attr]


def test_withdrawal_and_a_second_utskrivningsklar_start_a_new_clock() -> None:
    # clock 1: Mon 2 Feb 10:00 → withdrawn Fri 6 Feb 14:00 = 4 days
    # clock 2: Mon 9 Feb 10:00 → discharged Fri 13 Feb 11:00 = 4 days; total 8
    s = stay(
        ["2026-02-02T10:00:00+01:00", "2026-02-09T10:00:00+01:00"],
        "2026-02-13T11:00:00+01:00",
        withdrawn=["2026-02-06T14:00:00+01:00"],
    )
    assert len(periods(s)) == 2
    found = figures(s, LAG)
    assert found is not None and (found.dagar, found.day_zero) == (8, False)
    # each clock has its own free days: (4 − 2) + (4 − 2) = 4, not 8 − 2 = 6
    assert one(s, LAG) == 4
    # the Kalmar individual rule for psychiatry alike: each clock beyond 20 → 0
    # withdrawn the same day and ready again the next: 0 + (discharge − 2nd notice)
    t = stay(
        ["2026-02-16T11:05:00+01:00", "2026-02-17T09:10:00+01:00"],
        "2026-02-18T10:30:00+01:00",
        withdrawn=["2026-02-16T15:30:00+01:00"],
    )
    assert figures(t, LAG).dagar == 1  # type: ignore[union-attr]  # 0 + (18 − 17)


def test_a_retracted_notice_does_not_count() -> None:
    # a notice on 2 Feb retracted (entered-in-error); the real one on 5 Feb; out 9 Feb
    wrong = notice(c.UTSKRIVNINGSKLAR, "2026-02-02T10:00:00+01:00", retracted=True)
    s = stay("2026-02-05T10:00:00+01:00", "2026-02-09T10:00:00+01:00", extra=(wrong,))
    assert figures(s, LAG).dagar == 4  # type: ignore[union-attr]  # 9 − 5, not 9 − 2
    # a retracted withdrawal does not stop the clock: 2 Feb → 9 Feb = 7
    undone = notice(c.UTSKRIVNINGSKLAR_ATERKALLAD, "2026-02-04T10:00:00+01:00", True)
    t = stay("2026-02-02T10:00:00+01:00", "2026-02-09T10:00:00+01:00", extra=(undone,))
    assert figures(t, LAG).dagar == 7  # type: ignore[union-attr]


def test_a_stay_never_utskrivningsklar_is_not_counted() -> None:
    s = stay([], "2026-02-09T10:00:00+01:00")
    assert figures(s, LAG) is None
    assert groups([s], LAG, None) == []


# ── the rule sets ───────────────────────────────────────────────────────────────────────


def test_the_stockholm_12_00_cut_off() -> None:
    # notice Mon 16 Feb 12:30, discharged Fri 20 Feb: national 20 − 16 = 4 days
    after = stay("2026-02-16T12:30:00+01:00", "2026-02-20T10:00:00+01:00")
    found = figures(after, STOCKHOLM)
    assert found is not None and found.dagar == 4
    # Stockholm: after 12:00 day 0 is 17 Feb: k = 3; alone in its group the average model
    # bills max(0, 3 − 2 × 1) = 1
    assert found.counted == 3 and one(after, STOCKHOLM) == 1
    # Halland: day 0 is the day of the notice at any time: k = 4 → 4 − 2 = 2
    assert figures(after, HALLAND).counted == 4 and one(after, HALLAND) == 2  # type: ignore[union-attr]
    # at 12:00 sharp it is not after 12:00: day 0 = 16 Feb, k = 4 → 2
    sharp = stay("2026-02-16T12:00:00+01:00", "2026-02-20T10:00:00+01:00")
    assert figures(sharp, STOCKHOLM).counted == 4 and one(sharp, STOCKHOLM) == 2  # type: ignore[union-attr]
    # an afternoon notice and discharge the same day: k = max(0, 16 − 17) = 0
    same = stay("2026-02-16T13:00:00+01:00", "2026-02-16T18:00:00+01:00")
    assert figures(same, STOCKHOLM).counted == 0  # type: ignore[union-attr]
    # the cut-off is Swedish time: 11:30Z is 12:30 CET
    utc = stay("2026-02-16T11:30:00Z", "2026-02-20T10:00:00+01:00")
    assert figures(utc, STOCKHOLM).counted == 3  # type: ignore[union-attr]


def test_the_cut_off_in_summer_time() -> None:
    # 10:30Z on 1 Jun is 12:30 CEST: after 12:00, day 0 = 2 Jun; out 5 Jun: k = 3
    s = stay("2026-06-01T10:30:00Z", "2026-06-05T09:00:00+02:00")
    assert figures(s, STOCKHOLM).counted == 3  # type: ignore[union-attr]


def test_stockholm_average_model_per_municipality_month_and_care_type() -> None:
    feb = "2022-02-"
    stays = [
        # somatic, 0180, Feb 2022: k = 0 (day-0 discharge), 1, 6 (notice at 14:00 → day 0
        # = 2 Feb; out 8 Feb)
        stay(f"{feb}01T09:00:00+01:00", f"{feb}01T16:00:00+01:00", kommun="0180"),
        stay(f"{feb}01T09:00:00+01:00", f"{feb}02T16:00:00+01:00", kommun="0180"),
        stay(f"{feb}01T14:00:00+01:00", f"{feb}08T16:00:00+01:00", kommun="0180"),
        # psychiatric, 0180: k = 7, 4 (5 free days each)
        stay(
            f"{feb}01T08:00:00+01:00", f"{feb}08T10:00:00+01:00", care=c.PSYKIATRISK, kommun="0180"
        ),
        stay(
            f"{feb}10T08:00:00+01:00", f"{feb}14T10:00:00+01:00", care=c.PSYKIATRISK, kommun="0180"
        ),
        # somatic, another municipality: k = 5 → its own group: 5 − 2 = 3
        stay(f"{feb}01T08:00:00+01:00", f"{feb}06T10:00:00+01:00", kommun="0114"),
    ]
    found = {(g.kommun, g.care_type): g for g in groups(stays, STOCKHOLM, {2022: 9300})}
    somatic = found["0180", c.SOMATISK]
    # Σk = 0 + 1 + 6 = 7, n = 3, average 7/3 ≈ 2.33 > 2: (7/3 − 2) × 3 = 7 − 6 = 1 day
    assert somatic.billable == 1 and somatic.amount == 9300
    # psychiatry: Σk = 11, n = 2: 11 − 5 × 2 = 1 day
    assert found["0180", c.PSYKIATRISK].billable == 1
    assert found["0114", c.SOMATISK].billable == 3
    # the day-0 stay pulls the average down: without it Σk = 7, n = 2 → 7 − 4 = 3
    assert groups(stays[1:3], STOCKHOLM, None)[0].billable == 3
    all_of_them = totals(found.values())
    # national days: 0 + 1 + 7 (1 → 8 Feb) + 7 + 4 + 5 = 24 over 6 stays; 1 day-0 discharge
    assert (all_of_them.stays, all_of_them.dagar, all_of_them.day_zero) == (6, 24, 1)
    assert all_of_them.billable == 5 and all_of_them.amount == 5 * 9300
    somatic_totals = totals(found.values(), c.SOMATISK)
    # somatic: 0 + 1 + 7 + 5 = 13 days over 4 stays: average 3.25
    assert somatic_totals.average == pytest.approx(3.25)


def test_kalmar_threshold_then_individual_beyond_3_and_psychiatry_beyond_20() -> None:
    month = "2026-03-"
    # average (1 + 2 + 6) / 3 = 3: not above 3, nothing billed
    under = [
        stay(f"{month}02T10:00:00+01:00", f"{month}03T10:00:00+01:00"),
        stay(f"{month}02T10:00:00+01:00", f"{month}04T10:00:00+01:00"),
        stay(f"{month}02T10:00:00+01:00", f"{month}08T10:00:00+01:00"),
    ]
    assert groups(under, KALMAR, None)[0].billable == 0
    # average (2 + 6 + 5) / 3 = 4.33 > 3: individual days beyond 3: 0 + 3 + 2 = 5
    over = [
        stay(f"{month}02T10:00:00+01:00", f"{month}04T10:00:00+01:00"),
        stay(f"{month}02T10:00:00+01:00", f"{month}08T10:00:00+01:00"),
        stay(f"{month}02T10:00:00+01:00", f"{month}07T10:00:00+01:00"),
    ]
    (group,) = groups(over, KALMAR, None)
    assert group.billable == 5
    assert [f.billable for f in group.stays] == [0, 3, 2]
    # psychiatry per individual beyond 20: 25 days → 5, 20 days → 0 (no threshold)
    long = stay("2026-03-01T10:00:00+01:00", "2026-03-26T10:00:00+01:00", care=c.PSYKIATRISK)
    twenty = stay("2026-03-01T10:00:00+01:00", "2026-03-21T10:00:00+01:00", care=c.PSYKIATRISK)
    assert one(long, KALMAR) == 5 and one(twenty, KALMAR) == 0
    assert groups([long, twenty], KALMAR, None)[0].billable == 5


def test_halland_average_model_day_zero_whatever_the_time() -> None:
    # notices at 23:00 count from that day: k = 3 and 4, Σ = 7, n = 2: 7 − 4 = 3
    stays = [
        stay("2026-02-02T23:00:00+01:00", "2026-02-05T08:00:00+01:00"),
        stay("2026-02-02T23:00:00+01:00", "2026-02-06T08:00:00+01:00"),
    ]
    assert groups(stays, HALLAND, None)[0].billable == 3


def test_law_default_only_when_the_region_did_its_part() -> None:
    ready, out = "2026-02-02T10:00:00+01:00", "2026-02-09T10:00:00+01:00"  # 7 days: 5
    assert one(stay(ready, out), LAG) == 5
    # no inskrivningsmeddelande: the municipality pays nothing under the law
    missing = stay(ready, out, admitted_notice=None)
    assert one(missing, LAG) == 0
    found = figures(missing, LAG)
    assert found is not None and not found.region_ok and found.dagar == 7
    # a retracted inskrivningsmeddelande is none
    retracted = notice(c.INSKRIVNINGSMEDDELANDE, "2026-01-30T10:00:00+01:00", True)
    assert one(stay(ready, out, admitted_notice=None, extra=(retracted,)), LAG) == 0
    # Kalmar's agreement has no such condition: individual beyond 20 days for psychiatry,
    # and for somatic care the threshold: k = 7 > 3 → 7 − 3 = 4
    assert one(missing, KALMAR) == 4
    deadline = instant("2026-02-05T10:00:00+01:00")
    in_time = SipCall("Task/1", "completed", deadline, instant("2026-02-04T15:00:00+01:00"))
    late = SipCall("Task/2", "completed", deadline, instant("2026-02-06T09:00:00+01:00"))
    never = SipCall("Task/3", "in-progress", deadline, None)
    cancelled = SipCall("Task/4", "cancelled", deadline, None)
    assert one(stay(ready, out, sip=(in_time,)), LAG) == 5
    assert one(stay(ready, out, sip=(in_time, cancelled)), LAG) == 5
    assert one(stay(ready, out, sip=(late,)), LAG) == 0
    assert one(stay(ready, out, sip=(never,)), LAG) == 0
    # Stockholm asks for the notices, not the SIP call: Σk = 7, n = 1 → 7 − 2 = 5
    assert one(stay(ready, out, sip=(never,)), STOCKHOLM) == 5
    assert one(stay(ready, out, admitted_notice=None), STOCKHOLM) == 0


def test_amount_needs_the_years_daily_amount() -> None:
    s = stay("2022-02-01T10:00:00+01:00", "2022-02-08T10:00:00+01:00")  # 7 − 2 = 5 days
    (group,) = groups([s], LAG, BOOK.daily_amounts)
    assert (group.billable, group.daily_amount, group.amount) == (5, 9300, 46500)
    s2019 = stay("2019-05-01T10:00:00+02:00", "2019-05-04T10:00:00+02:00")  # 3 − 2 = 1
    assert groups([s2019], LAG, BOOK.daily_amounts)[0].amount == 7800
    with pytest.raises(MissingDailyAmount) as raised:
        groups([s, stay("2026-02-01T10:00:00+01:00", "2026-02-03T10:00:00+01:00")], LAG, {})
    assert raised.value.years == [2022, 2026]


def test_notices_after_the_discharge_do_not_count() -> None:
    late = notice(c.UTSKRIVNINGSKLAR, "2026-02-10T10:00:00+01:00")
    s = stay("2026-02-02T10:00:00+01:00", "2026-02-04T10:00:00+01:00", extra=(late,))
    assert [p.end for p in periods(s)] == [datetime.fromisoformat("2026-02-04T10:00:00+01:00")]
