-- Migration 8: which process delivers each subscription's rest-hook notifications.
--
-- The server runs its rest-hook deliveries in a second process on the same database file
-- (fhir_server/subscriptions/worker.py). Both processes match and number events (the shared
-- cursor drops what the other numbered first), but only the holder of a subscription's
-- lease sends its notifications, so that a receiver gets each event once (at least once
-- across a crash) and in order. A lease runs out unless renewed: a process that dies
-- leaves its subscriptions to the next after `until`. As on PostgreSQL (its migration 6).
CREATE TABLE IF NOT EXISTS subscription_lease (
  id     TEXT PRIMARY KEY,   -- Subscription.id
  owner  TEXT NOT NULL,      -- the holding process (host:pid:nonce)
  until  REAL NOT NULL       -- Unix time (seconds) the lease runs out
) WITHOUT ROWID;
