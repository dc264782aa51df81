"""The outcome of a write interaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_server.outcome import Issue
from fhir_server.storage.port import StoredVersion


@dataclass(frozen=True, slots=True)
class WriteResult:
    status: int  # 200, 201 or 204
    version: StoredVersion | None  # the version now current (None: nothing to show)
    created: bool = False
    issues: tuple[Issue, ...] = field(default_factory=tuple)
