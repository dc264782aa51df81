"""Rule sets of payment liability and the daily amounts, read from TOML (rule_sets.toml).

A rule set is a choice of values for four mechanisms (the day-0 cut-off, free days per care
type, the model individual / average / threshold, and the conditions on the region); the
schema is described in the shipped rule_sets.toml and docs/reports.md. A file that does not
follow it fails loudly at start, naming the key.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from fhir_server.transitions import codes as c

SHIPPED = Path(__file__).with_name("rule_sets.toml")

INDIVIDUAL = "individual"
AVERAGE = "average"
THRESHOLD = "threshold"
MODELS = (INDIVIDUAL, AVERAGE, THRESHOLD)

CONDITION_INSKRIVNINGSMEDDELANDE = c.INSKRIVNINGSMEDDELANDE
CONDITION_SIP = c.KALLA_TILL_SIP
CONDITIONS = (CONDITION_INSKRIVNINGSMEDDELANDE, CONDITION_SIP)
CARE_TYPES = (c.SOMATISK, c.PSYKIATRISK)


class RuleSetError(ValueError):
    """The rule-set file does not follow the schema."""


@dataclass(frozen=True)
class CareTypeRule:
    free_days: int
    model: str
    threshold: float | None = None


@dataclass(frozen=True)
class RuleSet:
    name: str
    title: str
    cutoff: time | None
    region_conditions: tuple[str, ...]
    care: Mapping[str, CareTypeRule]
    source: Mapping[str, Any]  # the table as configured, for the report and the digest

    def rule(self, care_type: str) -> CareTypeRule:
        return self.care[care_type]


@dataclass(frozen=True)
class RuleBook:
    daily_amounts: Mapping[int, int]
    rule_sets: Mapping[str, RuleSet]
    default: str

    def get(self, name: str | None) -> RuleSet:
        chosen = name or self.default
        return self.rule_sets[chosen]

    def digest(self, rule_set: RuleSet, years: list[int]) -> str:
        """sha256 over the rule set and the daily amounts of the years used, in a canonical
        JSON form: the same figures give the same digest, any change another."""
        content = {
            "rule_set": {"name": rule_set.name, **rule_set.source},
            "daily_amounts": {str(y): self.daily_amounts.get(y) for y in sorted(years)},
        }
        raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(raw).hexdigest()


def _fail(where: str, problem: str) -> RuleSetError:
    return RuleSetError(f"rule sets: {where}: {problem}")


def _care_rule(where: str, table: Any) -> CareTypeRule:
    if not isinstance(table, dict):
        raise _fail(where, "must be a table with free_days and model")
    unknown = set(table) - {"free_days", "model", "threshold"}
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    free = table.get("free_days")
    if not isinstance(free, int) or isinstance(free, bool) or free < 0:
        raise _fail(f"{where}.free_days", "must be a whole number ≥ 0")
    model = table.get("model")
    if model not in MODELS:
        raise _fail(f"{where}.model", f"must be one of {', '.join(MODELS)}, not {model!r}")
    threshold = table.get("threshold")
    if model == THRESHOLD:
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise _fail(f"{where}.threshold", "a number is needed with model 'threshold'")
        threshold = float(threshold)
    elif threshold is not None:
        raise _fail(f"{where}.threshold", "only model 'threshold' takes a threshold")
    return CareTypeRule(free, model, threshold)


def _rule_set(name: str, table: Any) -> RuleSet:
    where = f"rule_sets.{name}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a table")
    unknown = set(table) - {"title", "cutoff", "region_conditions", *CARE_TYPES}
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    title = table.get("title", name)
    if not isinstance(title, str):
        raise _fail(f"{where}.title", "must be text")
    cutoff_text = table.get("cutoff", "")
    cutoff: time | None = None
    if cutoff_text:
        try:
            cutoff = time.fromisoformat(str(cutoff_text))
        except ValueError:
            raise _fail(f"{where}.cutoff", f"{cutoff_text!r} is not HH:MM") from None
    conditions = table.get("region_conditions", [])
    if not isinstance(conditions, list) or any(x not in CONDITIONS for x in conditions):
        raise _fail(f"{where}.region_conditions", f"each must be one of {', '.join(CONDITIONS)}")
    care = {}
    for care_type in CARE_TYPES:
        if care_type not in table:
            raise _fail(where, f"the care type {care_type} has no rule")
        care[care_type] = _care_rule(f"{where}.{care_type}", table[care_type])
    return RuleSet(name, title, cutoff, tuple(conditions), care, table)


def parse(document: Mapping[str, Any]) -> RuleBook:
    amounts_table = document.get("daily_amounts", {})
    if not isinstance(amounts_table, dict):
        raise _fail("daily_amounts", "must be a table of year = amount")
    amounts: dict[int, int] = {}
    for year, amount in amounts_table.items():
        if not str(year).isdigit() or len(str(year)) != 4:
            raise _fail(f"daily_amounts.{year}", "the key must be a year")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _fail(f"daily_amounts.{year}", "the amount must be whole kronor > 0")
        amounts[int(year)] = amount
    tables = document.get("rule_sets")
    if not isinstance(tables, dict) or not tables:
        raise _fail("rule_sets", "at least one rule set is needed")
    rule_sets = {name: _rule_set(name, table) for name, table in tables.items()}
    default = document.get("settings", {}).get("default_rule_set", "")
    if default not in rule_sets:
        raise _fail("settings.default_rule_set", f"{default!r} is not one of the rule sets")
    return RuleBook(amounts, rule_sets, default)


@cache
def load(path: Path | None = None) -> RuleBook:
    """The rule book in the file (the shipped one when None); read once per path."""
    source = path or SHIPPED
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleSetError(f"rule sets: cannot read {source}: {exc}") from exc
    return parse(document)
