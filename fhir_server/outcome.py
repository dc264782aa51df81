"""OperationOutcome and the error values every layer raises.

Errors are values: storage, validation and the REST layer raise `FhirError` with the HTTP
status the specification prescribes; the HTTP layer turns it into an OperationOutcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.ids import version_etag


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # IssueType code, e.g. invalid, structure, not-found, conflict
    diagnostics: str
    expression: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: list[Issue] | tuple[Issue, ...]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


def information(text: str) -> dict[str, Any]:
    return operation_outcome([Issue("information", "informational", text)])


@dataclass
class FhirError(Exception):
    """An error with its HTTP status and the OperationOutcome issues that explain it."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues) or f"HTTP {self.status}"

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)

    def with_etag(self, version_id: int) -> FhirError:
        self.headers["ETag"] = version_etag(version_id)
        return self


def error(status: int, code: str, diagnostics: str, *expression: str) -> FhirError:
    return FhirError(status, [Issue("error", code, diagnostics, tuple(expression))])


def bad_request(diagnostics: str, *expression: str) -> FhirError:
    return error(400, "invalid", diagnostics, *expression)


def not_found(diagnostics: str) -> FhirError:
    return error(404, "not-found", diagnostics)


def gone(diagnostics: str) -> FhirError:
    return error(410, "deleted", diagnostics)


def conflict(diagnostics: str) -> FhirError:
    return error(409, "conflict", diagnostics)


def precondition_failed(diagnostics: str) -> FhirError:
    return error(412, "conflict", diagnostics)
