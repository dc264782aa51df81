"""The hemgångsklar checklist of a stay (DOMAIN.md step 6): the region's items from
configuration (rules.py), each done item recorded on the Encounter as a
lus-hemgangsklar-check extension (item, time, by).

Only items done after the latest utskrivningsklar notice count: a withdrawal and a new
utskrivningsklar judgement start the checklist again. The item the physician's judgement
itself fulfils (`lakare-bedomt-utskrivningsklar` by default) is done by that notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fhir_server.definitions.content import CANONICAL_BASE
from fhir_server.transitions.clock import instant
from fhir_server.transitions.resources import Resource
from fhir_server.transitions.rules import ChecklistItem

CHECK_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/lus-hemgangsklar-check"
JUDGED_BY_NOTICE = "lakare-bedomt-utskrivningsklar"


@dataclass(frozen=True)
class Check:
    item: str
    time: str
    by: str | None


def checks(encounter: Resource) -> list[Check]:
    found = []
    for extension in encounter.get("extension", []):
        if extension.get("url") != CHECK_EXTENSION:
            continue
        parts = {e.get("url"): e for e in extension.get("extension", [])}
        item = parts.get("item", {}).get("valueCode")
        time = parts.get("time", {}).get("valueDateTime")
        by = parts.get("by", {}).get("valueReference", {}).get("reference")
        if isinstance(item, str) and isinstance(time, str):
            found.append(Check(item, time, by if isinstance(by, str) else None))
    return found


def done_since(
    encounter: Resource, items: tuple[ChecklistItem, ...], clock_start: datetime | None
) -> dict[str, Check | None]:
    """Each item of the checklist → the check that did it after `clock_start`, or None."""
    done: dict[str, Check | None] = {item.code: None for item in items}
    if clock_start is None:
        return done
    for check in checks(encounter):
        if check.item in done and instant(check.time) >= clock_start:
            done[check.item] = check
    if JUDGED_BY_NOTICE in done and done[JUDGED_BY_NOTICE] is None:
        done[JUDGED_BY_NOTICE] = Check(JUDGED_BY_NOTICE, clock_start.isoformat(), None)
    return done


def add_check(encounter: Resource, item: str, time: str, by: str | None) -> None:
    parts: list[Resource] = [
        {"url": "item", "valueCode": item},
        {"url": "time", "valueDateTime": time},
    ]
    if by is not None:
        parts.append({"url": "by", "valueReference": {"reference": by}})
    encounter.setdefault("extension", []).append({"url": CHECK_EXTENSION, "extension": parts})
