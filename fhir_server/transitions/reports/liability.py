"""The figures of the reports: utskrivningsklara dagar and payment liability, pure.

Stays are grouped by municipality, care type and the month they count in (their discharge
month); the average and threshold models work on such a group, the individual model on each
stay; the amount is billable days × the daily amount of the group's year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from fhir_server.transitions.reports.rule_sets import (
    AVERAGE,
    INDIVIDUAL,
    THRESHOLD,
    RuleSet,
)
from fhir_server.transitions.reports.stays import (
    Stay,
    days,
    discharged_on_day_zero,
    periods,
    region_did_its_part,
    utskrivningsklara_dagar,
)


class MissingDailyAmount(LookupError):
    def __init__(self, years: list[int]) -> None:
        self.years = years
        listed = ", ".join(str(y) for y in years)
        super().__init__(f"no daily amount is configured for {listed}")


@dataclass(frozen=True)
class StayFigures:
    stay: Stay
    dagar: int  # the national indicator
    day_zero: bool
    counted: int  # days under the rule set's day-0 rule (Σ k over periods)
    individual: int  # Σ max(0, k − free days) over periods
    region_ok: bool
    billable: int | None  # this stay's billable days; None under the average model


@dataclass(frozen=True)
class Group:
    kommun: str
    care_type: str
    month: str
    stays: tuple[StayFigures, ...]
    billed: tuple[StayFigures, ...]  # those the liability is computed over (region ok)
    billable: int
    daily_amount: int | None

    @property
    def amount(self) -> int:
        return self.billable * (self.daily_amount or 0)


@dataclass
class Totals:
    """One figure set over stays (all, or one care type)."""

    stays: int = 0
    dagar: int = 0
    day_zero: int = 0
    billable: int = 0
    amount: int = 0
    per_stay: list[StayFigures] = field(default_factory=list)

    @property
    def average(self) -> Fraction | None:
        return Fraction(self.dagar, self.stays) if self.stays else None


def figures(stay: Stay, rule_set: RuleSet) -> StayFigures | None:
    """A stay's figures; None for a stay that never was utskrivningsklar (not counted)."""
    found = periods(stay)
    if not found:
        return None
    rule = rule_set.rule(stay.care_type)
    counted = [days(p, rule_set.cutoff) for p in found]
    individual = sum(max(0, k - rule.free_days) for k in counted)
    region_ok = region_did_its_part(stay, rule_set.region_conditions)
    billable = (individual if region_ok else 0) if rule.model == INDIVIDUAL else None
    return StayFigures(
        stay,
        utskrivningsklara_dagar(stay),
        discharged_on_day_zero(stay),
        sum(counted),
        individual,
        region_ok,
        billable,
    )


def groups(
    stays: Iterable[Stay], rule_set: RuleSet, daily_amounts: Mapping[int, int] | None
) -> list[Group]:
    """The stays' groups with their billable days. With `daily_amounts`, every group's
    year must have one (MissingDailyAmount naming the years otherwise)."""
    keyed: dict[tuple[str, str, str], list[StayFigures]] = {}
    for stay in stays:
        found = figures(stay, rule_set)
        if found is not None:
            keyed.setdefault((stay.kommun, stay.care_type, stay.month), []).append(found)
    if daily_amounts is not None:
        missing = sorted({int(m[:4]) for _, _, m in keyed} - set(daily_amounts))
        if missing:
            raise MissingDailyAmount(missing)
    result = []
    for (kommun, care_type, month), members in sorted(keyed.items()):
        rule = rule_set.rule(care_type)
        billed = [f for f in members if f.region_ok]
        billable = _billable(rule.model, rule.free_days, rule.threshold, billed)
        if rule.model == THRESHOLD:
            members = [_with_billable(f, billable > 0) for f in members]
        amount = None if daily_amounts is None else daily_amounts[int(month[:4])]
        result.append(
            Group(kommun, care_type, month, tuple(members), tuple(billed), billable, amount)
        )
    return result


def _billable(
    model: str, free_days: int, threshold: float | None, billed: list[StayFigures]
) -> int:
    if not billed:
        return 0
    if model == INDIVIDUAL:
        return sum(f.individual for f in billed)
    total = sum(f.counted for f in billed)
    if model == AVERAGE:
        # max(0, average − F) × n, which is max(0, Σk − F·n): whole days
        return max(0, total - free_days * len(billed))
    assert model == THRESHOLD and threshold is not None
    if Fraction(total, len(billed)) > Fraction(threshold):
        return sum(f.individual for f in billed)
    return 0


def _with_billable(found: StayFigures, over: bool) -> StayFigures:
    billable = (found.individual if over else 0) if found.region_ok else 0
    return StayFigures(
        found.stay,
        found.dagar,
        found.day_zero,
        found.counted,
        found.individual,
        found.region_ok,
        billable,
    )


def totals(found: Iterable[Group], care_type: str | None = None) -> Totals:
    """The figures over the groups, of one care type or all."""
    result = Totals()
    for group in found:
        if care_type is not None and group.care_type != care_type:
            continue
        result.stays += len(group.stays)
        result.dagar += sum(f.dagar for f in group.stays)
        result.day_zero += sum(1 for f in group.stays if f.day_zero)
        result.billable += group.billable
        result.amount += group.amount
        result.per_stay.extend(group.stays)
    return result
