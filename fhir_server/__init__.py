"""FHIR R4 (4.0.1) server for coordinated discharge from hospital care (LUS)."""

__version__ = "0.1.0"
FHIR_VERSION = "4.0.1"
