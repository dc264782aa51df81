"""Validation cost per resource: the structure layer alone, then the profile layer.

    python bench/validation.py [--runs 2000]

Prints mean / p50 / p99 in µs over `--runs` validations of:
  - a Patient: structure (JSON schema + JSON rules), then against SEBasePatient (or our
    lus-patient when profiles/ has it);
  - a Communication: structure, then against our inskrivningsmeddelande profile when
    profiles/ has it, else against the core Communication definition.
The profile layer's figure is the walk alone (the structure layer is not included).
HL7 Sweden's profiles come from profiles/hl7se, else from ../shared/fhir-data/swedish.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fhir_server.conformance.sources import project_folders  # noqa: E402
from fhir_server.definitions import load_definitions  # noqa: E402
from fhir_server.validation import default_validator  # noqa: E402
from fhir_server.validation.profile import load_profile_validator  # noqa: E402

SHARED_SE = ROOT.parent / "shared" / "fhir-data" / "swedish" / "hl7se-basprofiler-1.1.0"
SE_PATIENT = "http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient"


def _example(name: str) -> dict[str, Any] | None:
    for folder in project_folders():
        for path in folder.rglob(name):
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
    return None


def _patient() -> tuple[dict[str, Any], str]:
    ours = _example("Patient-karin.json")
    if ours is not None:
        return ours, ours["meta"]["profile"][0]
    se = json.loads((SHARED_SE / "Patient-PatientExample1.json").read_text())
    return se, SE_PATIENT


def _communication() -> tuple[dict[str, Any], str]:
    ours = _example("Communication-karin-inskrivningsmeddelande.json")
    if ours is not None:
        return ours, ours["meta"]["profile"][0]
    core = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": "http://example.org/notice", "code": "x"}]}],
        "subject": {"reference": "Patient/p1"},
        "sent": "2026-02-10T10:00:00+01:00",
        "recipient": [{"reference": "Organization/o1"}],
        "payload": [{"contentString": "Inskrivningsmeddelande"}],
    }
    return core, "http://hl7.org/fhir/StructureDefinition/Communication"


def _measure(run: Callable[[], Any], runs: int) -> str:
    for _ in range(min(50, runs)):
        run()  # warm: trees, expansions and compiled invariants are built on first use
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        run()
        times.append((time.perf_counter_ns() - start) / 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"mean {statistics.fmean(times):8.1f}  p50 {times[len(times) // 2]:8.1f}  p99 {p99:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    extra = () if project_folders() else (SHARED_SE,)
    profiles = load_profile_validator(load_definitions(), extra)
    structure = default_validator()
    print(f"µs per resource over {args.runs} runs")
    for label, (resource, profile) in (
        ("Patient", _patient()),
        ("Communication", _communication()),
    ):
        errors = profiles.validate(resource, profile).errors
        assert not errors, errors
        short = profile.rsplit("/", 1)[-1]
        alone = _measure(lambda r=resource: structure.validate(r), args.runs)
        walked = _measure(lambda r=resource, p=profile: profiles.validate(r, p), args.runs)
        print(f"{label:<14} {'structure':<34} {alone}")
        print(f"{label:<14} {'profile ' + short:<34} {walked}")


if __name__ == "__main__":
    main()
