-- Migration 1: the base schema of the embedded SQLite store (PRAGMA user_version tracks it).

-- One row per logical resource: its current version.
CREATE TABLE IF NOT EXISTS resource (
  rid      INTEGER PRIMARY KEY,
  type     TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  version  INTEGER NOT NULL,
  seq      INTEGER NOT NULL,      -- version.seq of the current version
  deleted  INTEGER NOT NULL,
  UNIQUE (type, id)
);

-- Every version of every resource; seq is the global change order (system history).
CREATE TABLE IF NOT EXISTS version (
  seq          INTEGER PRIMARY KEY,
  rid          INTEGER NOT NULL,
  type         TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  last_updated TEXT    NOT NULL,  -- FHIR instant in UTC, fixed width, sorts as text
  method       TEXT    NOT NULL,
  deleted      INTEGER NOT NULL,
  data         BLOB,
  UNIQUE (rid, version)
);
CREATE INDEX IF NOT EXISTS version_by_type ON version (type, seq);
CREATE INDEX IF NOT EXISTS version_by_time ON version (last_updated);

-- Search index rows of current, non-deleted versions (replaced on every write).
CREATE TABLE IF NOT EXISTS idx_string (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  value TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_string_lookup ON idx_string (type, param, value);
CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string (rid);

CREATE TABLE IF NOT EXISTS idx_token (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  system TEXT, code TEXT, text TEXT
);
CREATE INDEX IF NOT EXISTS idx_token_lookup ON idx_token (type, param, code, system);
CREATE INDEX IF NOT EXISTS idx_token_rid ON idx_token (rid);

CREATE TABLE IF NOT EXISTS idx_reference (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  target_type TEXT, target_id TEXT, url TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_reference_lookup
  ON idx_reference (type, param, target_id, target_type);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (target_type, target_id);
CREATE INDEX IF NOT EXISTS idx_reference_rid ON idx_reference (rid);

CREATE TABLE IF NOT EXISTS idx_date (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  low TEXT NOT NULL, high TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_date_lookup ON idx_date (type, param, low, high);
CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date (rid);

CREATE TABLE IF NOT EXISTS idx_number (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  low REAL NOT NULL, high REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_number_lookup ON idx_number (type, param, low, high);
CREATE INDEX IF NOT EXISTS idx_number_rid ON idx_number (rid);

CREATE TABLE IF NOT EXISTS idx_quantity (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
  low REAL NOT NULL, high REAL NOT NULL, system TEXT, code TEXT
);
CREATE INDEX IF NOT EXISTS idx_quantity_lookup ON idx_quantity (type, param, low, high);
CREATE INDEX IF NOT EXISTS idx_quantity_rid ON idx_quantity (rid);

CREATE TABLE IF NOT EXISTS idx_uri (
  rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_uri_lookup ON idx_uri (type, param, value);
CREATE INDEX IF NOT EXISTS idx_uri_rid ON idx_uri (rid);

-- Transactional outbox: one event per stored version, written in the same transaction.
CREATE TABLE IF NOT EXISTS outbox (
  seq      INTEGER PRIMARY KEY,   -- = version.seq
  type     TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  version  INTEGER NOT NULL,
  method   TEXT    NOT NULL,
  at       TEXT    NOT NULL,
  principal TEXT,
  organisation TEXT
);
