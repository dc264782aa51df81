"""The conformance registry: every definition the server knows, by canonical URL.

The R4 core package (through fhir_server.definitions), HL7 Sweden's base profiles that we
ship under `profiles/hl7se/`, and our own `profiles/` and `terminology/` folders. Profiles
without a snapshot get one generated from their differential on first use.
"""

from fhir_server.conformance.registry import ConformanceRegistry, load_registry

__all__ = ["ConformanceRegistry", "load_registry"]
