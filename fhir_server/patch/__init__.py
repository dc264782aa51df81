"""PATCH logic, free of HTTP: JSON Patch (RFC 6902) and FHIRPath Patch (FHIR R4).

Both functions return a new document and never modify their input; when a patch fails,
`PatchError` is raised and nothing of it is applied.
"""

from fhir_server.patch.errors import MalformedPatchError, PatchError
from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch

__all__ = ["MalformedPatchError", "PatchError", "apply_fhirpath_patch", "apply_json_patch"]
