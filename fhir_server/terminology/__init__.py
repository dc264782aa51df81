"""Terminology over the local CodeSystems, ValueSets and ConceptMaps (core R4 and ours):
code lookup, ValueSet expansion and membership, and ConceptMap translation."""

from fhir_server.terminology.service import Terminology

__all__ = ["Terminology"]
