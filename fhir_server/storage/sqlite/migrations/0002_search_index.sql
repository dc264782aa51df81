-- Migration 2: search index rows keyed by small integers, one row per distinct value.
--
-- Every resource type and search parameter has a stable integer key (search_key). String,
-- token and reference rows are stored once per distinct value of a resource and carry the
-- set of parameters that produced the value as a bit set (`params`): a Patient's family
-- name is one row for `name`, `family` and `phonetic`, an Observation's subject one row
-- for `subject` and `patient`. Searches test the parameter's bit. Date, number, quantity
-- and uri rows are per parameter (`p`), because a range scan by value must not wade
-- through other parameters' values (every resource has dates).
-- The lookup tables are clustered by their lookup key (WITHOUT ROWID): one B-tree insert
-- per row for the lookup plus one for the rid index, instead of three.
-- The rows are rebuilt from the stored resources when search_state says the parameter
-- definitions changed (the adapter does it at start; this migration leaves them empty).

DROP TABLE IF EXISTS idx_string;
DROP TABLE IF EXISTS idx_token;
DROP TABLE IF EXISTS idx_reference;
DROP TABLE IF EXISTS idx_date;
DROP TABLE IF EXISTS idx_number;
DROP TABLE IF EXISTS idx_quantity;
DROP TABLE IF EXISTS idx_uri;

-- kind 'type' (code '') is a resource type's key; other kinds are parameter types.
-- bit: the parameter's position in its type's bit set (string, token, reference only).
CREATE TABLE search_key (
  id    INTEGER PRIMARY KEY,
  type  TEXT    NOT NULL,
  code  TEXT    NOT NULL,
  kind  TEXT    NOT NULL,
  bit   INTEGER,
  UNIQUE (type, code, kind)
);

-- One row: the digest of the parameter definitions the index rows were built with.
CREATE TABLE search_state (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  digest  TEXT NOT NULL
);

CREATE TABLE idx_string (
  t INTEGER NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL, exact TEXT NOT NULL,
  params INTEGER NOT NULL,
  PRIMARY KEY (t, value, rid, exact)
) WITHOUT ROWID;
CREATE INDEX idx_string_rid ON idx_string (rid);

-- system and text are '' when the value has none (NULL would not be a usable key)
CREATE TABLE idx_token (
  t INTEGER NOT NULL, code TEXT NOT NULL, system TEXT NOT NULL, rid INTEGER NOT NULL,
  text TEXT NOT NULL, params INTEGER NOT NULL,
  PRIMARY KEY (t, code, system, rid, text)
) WITHOUT ROWID;
CREATE INDEX idx_token_rid ON idx_token (rid);

-- target_type/target_id are '' for a reference that is not to a resource of this server
CREATE TABLE idx_reference (
  t INTEGER NOT NULL, target_id TEXT NOT NULL, target_type TEXT NOT NULL,
  rid INTEGER NOT NULL, url TEXT NOT NULL, params INTEGER NOT NULL,
  PRIMARY KEY (t, target_id, target_type, rid, url)
) WITHOUT ROWID;
CREATE INDEX idx_reference_rid ON idx_reference (rid);

CREATE TABLE idx_date (
  p INTEGER NOT NULL, low TEXT NOT NULL, high TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (p, low, high, rid)
) WITHOUT ROWID;
CREATE INDEX idx_date_rid ON idx_date (rid);

CREATE TABLE idx_number (
  p INTEGER NOT NULL, low REAL NOT NULL, high REAL NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (p, low, high, rid)
) WITHOUT ROWID;
CREATE INDEX idx_number_rid ON idx_number (rid);

CREATE TABLE idx_quantity (
  p INTEGER NOT NULL, low REAL NOT NULL, high REAL NOT NULL, rid INTEGER NOT NULL,
  system TEXT NOT NULL, code TEXT NOT NULL,
  PRIMARY KEY (p, low, high, rid, system, code)
) WITHOUT ROWID;
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);

CREATE TABLE idx_uri (
  p INTEGER NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY (p, value, rid)
) WITHOUT ROWID;
CREATE INDEX idx_uri_rid ON idx_uri (rid);
