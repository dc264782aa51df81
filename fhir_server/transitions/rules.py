"""The workflow's rules from configuration: deadlines, acknowledged notices, regions and
their hemgångsklar checklists (fhir_server/transitions/workflow_rules.toml by default)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fhir_server.transitions.clock import DeadlineRule

DEFAULT_RULES = Path(__file__).with_name("workflow_rules.toml")


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    display: str


@dataclass(frozen=True)
class Region:
    key: str
    name: str
    lanskod: str
    organisationsnummer: frozenset[str]
    deadlines: Mapping[str, DeadlineRule]
    checklist: tuple[ChecklistItem, ...]


@dataclass(frozen=True)
class WorkflowRules:
    acknowledged: frozenset[str]
    deadlines: Mapping[str, DeadlineRule]
    checklist: tuple[ChecklistItem, ...]
    regions: tuple[Region, ...] = field(default=())

    def region_of(self, hsa_id: str | None) -> Region | None:
        """The region of a unit by the organisation number inside its HSA-id."""
        if not hsa_id or not hsa_id.startswith("SE") or len(hsa_id) < 12:
            return None
        number = hsa_id[2:12]
        return next((r for r in self.regions if number in r.organisationsnummer), None)

    def deadline(self, task_type: str, region: Region | None) -> DeadlineRule | None:
        if region is not None and task_type in region.deadlines:
            return region.deadlines[task_type]
        return self.deadlines.get(task_type)

    def checklist_of(self, region: Region | None) -> tuple[ChecklistItem, ...]:
        return region.checklist if region is not None and region.checklist else self.checklist


class RulesError(ValueError):
    pass


def _deadlines(table: Any, where: str) -> dict[str, DeadlineRule]:
    if not isinstance(table, dict):
        raise RulesError(f"{where}: deadlines must be a table")
    rules: dict[str, DeadlineRule] = {}
    for task_type, spec in table.items():
        if not isinstance(spec, dict) or not set(spec) <= {"hours", "days", "at"}:
            raise RulesError(f"{where}.{task_type}: a deadline has hours, days and/or at")
        rules[task_type] = DeadlineRule(spec.get("hours"), spec.get("days"), spec.get("at"))
    return rules


def _checklist(items: Any, where: str) -> tuple[ChecklistItem, ...]:
    if not isinstance(items, list):
        raise RulesError(f"{where}: hemgangsklar is a list of {{code, display}}")
    return tuple(ChecklistItem(str(i["code"]), str(i.get("display", i["code"]))) for i in items)


def parse_rules(data: Mapping[str, Any]) -> WorkflowRules:
    regions = tuple(
        Region(
            key=key,
            name=str(spec.get("name", key)),
            lanskod=str(spec.get("lanskod", "")),
            organisationsnummer=frozenset(spec.get("organisationsnummer", [])),
            deadlines=_deadlines(spec.get("deadlines", {}), f"regions.{key}.deadlines"),
            checklist=_checklist(spec.get("hemgangsklar", []), f"regions.{key}"),
        )
        for key, spec in data.get("regions", {}).items()
    )
    return WorkflowRules(
        acknowledged=frozenset(data.get("acknowledged", [])),
        deadlines=_deadlines(data.get("deadlines", {}), "deadlines"),
        checklist=_checklist(data.get("hemgangsklar", []), "hemgangsklar"),
        regions=regions,
    )


@cache
def load_rules(path: Path | None = None) -> WorkflowRules:
    with (path or DEFAULT_RULES).open("rb") as handle:
        return parse_rules(tomllib.load(handle))
