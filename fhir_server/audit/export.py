"""Exporting the audit trail as NDJSON (one AuditEvent per line, oldest first), for a PDL
follow-up (logguppföljning): by period, patient and user.

The same export serves the operation `AuditEvent/$audit-export` (fhir_server/audit/
operation.py: through the caller's secured storage, so an organisation gets only the events
it is an agent of, and the export is itself audited) and the command `fhir-server audit
export` (this module's `main`: reads the store directly, everything).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_server.config import Settings
from fhir_server.outcome import FhirError, bad_request
from fhir_server.search.dates import date_range
from fhir_server.search.references import is_valid_id
from fhir_server.search.results import SortKey
from fhir_server.storage.port import Criteria, RequestContext, SearchResult, Storage

NDJSON = "application/fhir+ndjson"
PAGE = 500
OLDEST_FIRST = (SortKey("date", "date"), SortKey("_id", "special"))
SERVER = RequestContext(principal="fhir-server audit export")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which events: recorded in [since, until), about a patient, by a user (the client id
    or the fhirUser reference, e.g. Practitioner/123, of the requesting agent)."""

    since: str | None = None
    until: str | None = None
    patient: str | None = None
    user: str | None = None

    def criteria(self) -> Criteria:
        """Search criteria on AuditEvent; 400 for a malformed value."""
        found: list[tuple[str, str]] = []
        for name, value, prefix in (("since", self.since, "ge"), ("until", self.until, "lt")):
            if value is None:
                continue
            if date_range(value) is None:
                raise bad_request(f"{name}={value} is not a date or an instant", name)
            found.append(("date", f"{prefix}{value}"))
        if self.patient is not None:
            rid = self.patient.removeprefix("Patient/")
            if not is_valid_id(rid):
                raise bad_request(f"patient={self.patient} is not a Patient id", "patient")
            found.append(("patient", f"Patient/{rid}"))
        if self.user is not None:
            if not self.user or "," in self.user:
                raise bad_request("user must name one user", "user")
            if "/" in self.user:
                found.append(("agent", self.user))
            else:
                found.append(("altid", self.user.replace("|", "\\|")))
        return found


async def pages(
    storage: Storage, ctx: RequestContext, selection: Selection
) -> AsyncIterator[SearchResult]:
    """The selected events page by page (the first page is searched on the first step, so
    a malformed selection fails there, before anything is sent)."""
    criteria = selection.criteria()
    cursor: str | None = None
    while True:
        found = await storage.search(
            ctx, "AuditEvent", criteria, count=PAGE, cursor=cursor, total=False, sort=OLDEST_FIRST
        )
        yield found
        cursor = found.next_cursor
        if cursor is None:
            return


def lines(found: SearchResult) -> bytes:
    return b"".join(v.data + b"\n" for v in found.versions if v.data is not None)


# the command ----------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the PDL audit trail")
    actions = audit.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="write AuditEvents as NDJSON, oldest first (reads the store directly)"
    )
    export.add_argument("--since", help="recorded at or after (FHIR date or instant)")
    export.add_argument("--until", help="recorded before (FHIR date or instant)")
    export.add_argument("--patient", help="about this patient (id or Patient/id)")
    export.add_argument("--user", help="by this user: client id, or e.g. Practitioner/123")
    export.add_argument("--output", type=Path, required=True, help="the NDJSON file ('-': stdout)")
    export.add_argument("--data-dir", type=Path, help="the data dir (FHIR_SERVER_DATA_DIR)")
    export.add_argument("--database-url", help="postgresql://… (FHIR_SERVER_DATABASE_URL)")


def main(args: argparse.Namespace) -> int:
    overrides = {
        key: value
        for key, value in (("data_dir", args.data_dir), ("database_url", args.database_url))
        if value is not None
    }
    selection = Selection(args.since, args.until, args.patient, args.user)
    try:
        written = asyncio.run(_export(Settings(**overrides), selection, args.output))
    except FhirError as exc:
        problem = "; ".join(issue.diagnostics for issue in exc.issues)
        print(f"fhir-server audit export: {problem}", file=sys.stderr)
        return 2
    print(f"{written} AuditEvents written to {args.output}", file=sys.stderr)
    return 0


async def _export(settings: Settings, selection: Selection, output: Path) -> int:
    from fhir_server.definitions import load_definitions
    from fhir_server.storage.configured import storage_for

    selection.criteria()  # a malformed selection fails before the store is opened
    storage = storage_for(settings, load_definitions())
    await storage.start()
    written = 0
    try:
        out = sys.stdout.buffer if str(output) == "-" else output.open("wb")
        try:
            async for found in pages(storage, SERVER, selection):
                out.write(lines(found))
                written += len(found.versions)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    finally:
        await storage.close()
    return written
