"""`fhir-server import`: NDJSON files and transaction/batch Bundles into the store."""
