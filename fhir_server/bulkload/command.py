"""The `fhir-server import` command: progress on stderr, a summary on stdout."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from fhir_server.bulkload.loader import Loader, Report
from fhir_server.bulkload.sources import units
from fhir_server.bulkload.writing_workers import ImportFailed
from fhir_server.config import Settings
from fhir_server.definitions import load_definitions
from fhir_server.runtime import Runtime
from fhir_server.storage.configured import describe, storage_for
from fhir_server.validation import default_validator

_SHOWN_PROBLEMS = 50


class Progress:
    """One status line, redrawn in place on a terminal, printed every few seconds elsewhere."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, report: Report) -> None:
        now = time.monotonic()
        if now - self._last < (0.2 if self._tty else 5.0):
            return
        self._last = now
        line = (
            f"{report.resources:>9,} resources  {report.rate():>7,.0f}/s"
            f"  {report.units:,} units  {len(report.problems):,} problems"
        )
        sys.stderr.write(f"\r{line}" if self._tty else f"{line}\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self._tty:
            sys.stderr.write("\n")


async def run_import(
    settings: Settings, paths: list[Path], batch_size: int, workers: int
) -> Report:
    definitions = load_definitions()
    storage = storage_for(settings, definitions)
    await storage.start()
    try:
        runtime = Runtime(settings, definitions, default_validator(), storage)
        progress = Progress()
        report = await Loader(runtime, batch_size, workers).load(units(paths), progress)
        progress.done()
        if report.resources:
            await storage.refresh_statistics()
        return report
    finally:
        await storage.close()


def summary(report: Report, target: str) -> str:
    elapsed = time.monotonic() - report.started
    lines = [
        f"imported {report.resources:,} resources from {report.units:,} units into {target}"
        f" in {elapsed:.1f} s ({report.rate():,.0f} resources/s)",
    ]
    for rtype, count in report.stored.most_common():
        lines.append(f"  {rtype:<32} {count:>9,}")
    if report.problems:
        lines.append(f"{len(report.problems):,} not imported:")
        for where, why in report.problems[:_SHOWN_PROBLEMS]:
            lines.append(f"  {where}: {why}")
        if len(report.problems) > _SHOWN_PROBLEMS:
            lines.append(f"  … and {len(report.problems) - _SHOWN_PROBLEMS:,} more")
    return "\n".join(lines)


def main(settings: Settings, paths: list[Path], batch_size: int, workers: int) -> int:
    try:
        report = asyncio.run(run_import(settings, paths, batch_size, workers))
    except ImportFailed as exc:
        print(f"fhir-server import: {exc}", file=sys.stderr)
        return 2
    print(summary(report, describe(settings)))
    return 1 if report.problems else 0
