"""FHIRPath for search indexing: compiled walks for the common subset, fhirpathpy for the rest."""

from fhir_server.fhirpath.compiled import CompiledExpression, compile_expression

__all__ = ["CompiledExpression", "compile_expression"]
