"""What every interaction needs: settings, definitions, validator and the store."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.config import Settings
from fhir_server.definitions import Definitions
from fhir_server.storage.port import Storage
from fhir_server.transitions.reactions import Workflow
from fhir_server.validation import StructureValidator
from fhir_server.validation.profile import ProfileValidator


@dataclass
class Runtime:
    settings: Settings
    definitions: Definitions
    validator: StructureValidator
    storage: Storage
    # profile validation (meta.profile on write, $validate); None: structure only
    profiles: ProfileValidator | None = None
    # the LUS workflow (fhir_server/transitions/), wrapped around the store
    workflow: Workflow | None = None
