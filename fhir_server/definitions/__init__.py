"""The official FHIR R4 core package, read once at start.

Resource types, search parameters, element summaries and compartments all come from
`hl7.fhir.r4.core` 4.0.1 as shipped in this folder, never from hand-written lists.
"""

from fhir_server.definitions.loader import Definitions, ElementInfo, load_definitions

__all__ = ["Definitions", "ElementInfo", "load_definitions"]
