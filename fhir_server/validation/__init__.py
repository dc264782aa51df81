"""Validation of resources: structure (official JSON schema + FHIR JSON rules)."""

from fhir_server.validation.structure import StructureValidator, default_validator

__all__ = ["StructureValidator", "default_validator"]
