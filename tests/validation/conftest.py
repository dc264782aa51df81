"""A profile validator over core R4 plus HL7 Sweden's base profiles (read from the shared
corpus until the project ships its copy under profiles/hl7se)."""

from __future__ import annotations

import pytest

from fhir_server.definitions import load_definitions
from fhir_server.validation.profile import ProfileValidator, load_profile_validator
from tests.conftest import shared_path

HL7SE = "swedish/hl7se-basprofiler-1.1.0"


@pytest.fixture(scope="session")
def validator() -> ProfileValidator:
    return load_profile_validator(load_definitions(), (shared_path(HL7SE),))
