"""Profile validation: an instance walked along a StructureDefinition's snapshot."""

from fhir_server.validation.profile.validator import ProfileValidator, load_profile_validator
from fhir_server.validation.profile.walker import Report

__all__ = ["ProfileValidator", "Report", "load_profile_validator"]
