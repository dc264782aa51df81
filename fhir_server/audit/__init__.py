"""The PDL audit trail: an AuditEvent for every read, search, write and operation.

Writes are audited inside the storage job that makes them (the same transaction: a write
is never stored without its AuditEvent, and a rolled-back write leaves none claiming
success; its failure is audited on its own). Reads and searches are queued and written in
batches by `AuditTrail`, flushed at least every half second and at shutdown.
"""
