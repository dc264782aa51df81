"""The Swedish identifier and code rules of swedish.py, applied during the walk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_server.terminology.expansion import CannotExpand
from fhir_server.validation.profile import swedish

if TYPE_CHECKING:
    from fhir_server.validation.profile.walker import Walk


def check_identifier(walk: Walk, identifier: dict[str, Any], expr: str) -> None:
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(value, str) or not isinstance(system, str):
        return
    problem: str | None = None
    rule = ""
    if system == swedish.PERSONNUMMER:
        rule, problem = "personnummer", swedish.personal_number_problem(value, False)
    elif system == swedish.SAMORDNINGSNUMMER:
        rule, problem = "samordningsnummer", swedish.personal_number_problem(value, True)
    elif system in swedish.HSA_ID_SYSTEMS:
        rule, problem = "hsa-id", swedish.hsa_id_problem(value)
    elif system == swedish.KOMMUNKOD:
        rule, problem = "kommunkod", _kommunkod_problem(walk, value)
    if problem is not None:
        walk.issue("error", "value", rule, problem, f"{expr}.value")


def check_coding(walk: Walk, coding: dict[str, Any], expr: str) -> None:
    if coding.get("system") != swedish.KOMMUNKOD or not isinstance(coding.get("code"), str):
        return
    problem = _kommunkod_problem(walk, coding["code"])
    if problem is not None:
        walk.issue("error", "code-invalid", "kommunkod", problem, f"{expr}.code")


def _kommunkod_problem(walk: Walk, code: str) -> str | None:
    terminology = walk.validator.terminology
    if terminology.code_system(swedish.KOMMUNKOD) is None:
        walk.report.bindings_unchecked += 1  # the municipality list is not loaded
        return None
    try:
        check = terminology.check_in_code_system(swedish.KOMMUNKOD, code)
    except CannotExpand:
        return None
    return None if check.result else f"'{code}' is not a Swedish kommunkod (SCB)"
