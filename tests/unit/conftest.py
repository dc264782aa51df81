"""Fixtures of the unit tests: the core definitions and the official R4 examples."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from fhir_server.definitions import Definitions, load_definitions

R4_EXAMPLES = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fhir-data"
    / "examples"
    / "hl7.fhir.r4.examples-4.0.1.tgz"
)


@pytest.fixture(scope="session")
def r4_definitions() -> Definitions:
    return load_definitions()


@pytest.fixture(scope="session")
def r4_examples() -> dict[str, dict[str, Any]]:
    """Every resource of the official R4 examples package, by file name without .json."""
    if not R4_EXAMPLES.exists():
        pytest.skip(f"official R4 examples package not present ({R4_EXAMPLES})")
    examples: dict[str, dict[str, Any]] = {}
    with tarfile.open(R4_EXAMPLES, "r:gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            resource = orjson.loads(handle.read())
            if isinstance(resource, dict) and "resourceType" in resource:
                examples[member.name.removeprefix("package/").removesuffix(".json")] = resource
    return examples
