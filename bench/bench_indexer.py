"""Index extraction time per resource: the official R4 examples and Swedish Patients.

    python bench/bench_indexer.py [--repeat 5] [--examples PATH]

Prints, per resource, the mean / median / p99 time of `Indexer.extract` over every resource
of the official examples package (each timed `--repeat` times, the best run kept), the same
per resource type for the types asked for, and for generated Swedish Patients
(bench/patients.py). Also: how long compiling a type's parameters takes, and the share of
search expressions that run as compiled walks rather than through fhirpathpy.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tarfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fhir_server.definitions import load_definitions  # noqa: E402
from fhir_server.search.indexer import Indexer  # noqa: E402

EXAMPLES = ROOT.parent / "shared" / "fhir-data" / "examples" / "hl7.fhir.r4.examples-4.0.1.tgz"


def read_examples(path: Path) -> list[dict[str, Any]]:
    resources = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                handle = tar.extractfile(member)
                assert handle is not None
                resource = orjson.loads(handle.read())
                if isinstance(resource, dict) and "resourceType" in resource:
                    resources.append(resource)
    return resources


def time_each(indexer: Indexer, resources: list[dict[str, Any]], repeat: int) -> list[float]:
    """Microseconds per resource, the best of `repeat` runs of each."""
    extract = indexer.extract
    clock = time.perf_counter_ns
    out = []
    for resource in resources:
        best = None
        for _ in range(repeat):
            start = clock()
            extract(resource)
            elapsed = clock() - start
            best = elapsed if best is None or elapsed < best else best
        assert best is not None
        out.append(best / 1000)
    return out


def figures(label: str, micros: list[float]) -> str:
    ordered = sorted(micros)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{label:<34} n={len(micros):>5}  mean {statistics.fmean(micros):7.1f} µs"
        f"  median {statistics.median(micros):7.1f} µs  p99 {p99:8.1f} µs"
        f"  max {ordered[-1]:8.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--examples", type=Path, default=EXAMPLES)
    parser.add_argument("--types", default="Patient,Observation,Encounter,Condition")
    args = parser.parse_args()

    definitions = load_definitions()
    indexer = Indexer(definitions)

    start = time.perf_counter()
    pairs = 0
    direct = 0
    for resource_type in sorted(definitions.resource_types):
        for param in indexer.params(resource_type):
            pairs += 1
            direct += param.expression.direct
    compile_seconds = time.perf_counter() - start
    print(
        f"compiled {pairs} (type, parameter) expressions for {len(definitions.resource_types)}"
        f" types in {compile_seconds:.2f} s; {direct / pairs:.1%} direct walks,"
        f" {pairs - direct} through fhirpathpy"
    )

    if not args.examples.exists():
        print(f"examples package not present ({args.examples}); only generated Patients")
        resources: list[dict[str, Any]] = []
    else:
        resources = read_examples(args.examples)
        time_each(indexer, resources, 1)  # warm up: compile every type first
        micros = time_each(indexer, resources, args.repeat)
        print(figures("all official examples", micros))
        by_type: dict[str, list[float]] = defaultdict(list)
        for resource, value in zip(resources, micros, strict=True):
            by_type[resource["resourceType"]].append(value)
        for resource_type in args.types.split(","):
            if by_type.get(resource_type):
                print(figures(f"  {resource_type}", by_type[resource_type]))

    from patients import patient  # bench/patients.py: realistic Swedish Patients

    rng = random.Random(1)
    swedish = [patient(rng, seq) for seq in range(2000)]
    time_each(indexer, swedish[:10], 1)
    print(figures("generated Swedish Patients", time_each(indexer, swedish, args.repeat)))
    rows = indexer.extract(swedish[0])
    count = sum(len(getattr(rows, kind)) for kind in rows.__slots__)
    print(f"  ({len(indexer.params('Patient'))} parameters, {count} index rows each)")


if __name__ == "__main__":
    main()
