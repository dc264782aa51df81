"""Every extended operation the server offers, registered once at start.

Each feature keeps its operations in its own module and exposes `OPERATIONS`; this list
names the modules, so what the server offers is read in one place.
"""

from __future__ import annotations

import importlib

from fhir_server.rest import operations

MODULES: tuple[str, ...] = (
    "fhir_server.rest.everything",
    "fhir_server.validation.operation",
    "fhir_server.terminology.operations",
    "fhir_server.subscriptions.operations",
    "fhir_server.transitions.operations",
    "fhir_server.transitions.reports.operation",
    "fhir_server.mappings.operation",
    "fhir_server.audit.operation",
)


def install() -> None:
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for operation in module.OPERATIONS:
            operations.register(operation)
