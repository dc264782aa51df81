-- Migration 1: the PostgreSQL store's schema (schema_migration records the applied ones).
--
-- The same tables as the SQLite store (see ../../sqlite/migrations/), so one compiled
-- search (sqlite/search_sql.py) runs on both. Text that is compared or searched by range
-- is COLLATE "C": byte order, as SQLite compares, whatever the database's locale (prefix
-- ranges end at U+10FFFF, instants are compared as fixed-width text).

-- One row per logical resource: its current version.
CREATE TABLE resource (
  rid      bigint   PRIMARY KEY,
  type     text     COLLATE "C" NOT NULL,
  id       text     COLLATE "C" NOT NULL,
  version  integer  NOT NULL,
  seq      bigint   NOT NULL,      -- version.seq of the current version
  deleted  smallint NOT NULL,
  UNIQUE (type, id)
);
CREATE SEQUENCE resource_rid;

-- Every version of every resource; seq is the global change order (system history).
-- data is `json`, not `jsonb`: json keeps the bytes as written (key order, decimals as
-- written), which reads return as they are; it is still JSON to the database
-- (data::jsonb, json operators) for ad-hoc queries and expression indexes.
CREATE TABLE version (
  seq          bigint   PRIMARY KEY,
  rid          bigint   NOT NULL,
  type         text     COLLATE "C" NOT NULL,
  id           text     COLLATE "C" NOT NULL,
  version      integer  NOT NULL,
  last_updated text     COLLATE "C" NOT NULL,  -- FHIR instant in UTC, fixed width
  method       text     NOT NULL,
  deleted      smallint NOT NULL,
  data         json,
  UNIQUE (rid, version)
);
CREATE SEQUENCE version_seq;
CREATE INDEX version_by_type ON version (type, seq);
CREATE INDEX version_by_time ON version (last_updated);

-- Transactional outbox: one event per stored version, written in the same transaction.
CREATE TABLE outbox (
  seq          bigint PRIMARY KEY,   -- = version.seq
  type         text   NOT NULL,
  id           text   NOT NULL,
  version      integer NOT NULL,
  method       text   NOT NULL,
  at           text   NOT NULL,
  principal    text,
  organisation text
);

-- Search index: the layout of the SQLite store's migration 2 (integer keys, one row per
-- distinct string/token/reference value with a parameter bit set `params`; per-parameter
-- rows `p` for date, number, quantity and uri). No primary keys: a write deduplicates its
-- rows itself; the lookup indexes lead with the key, then the value.
CREATE TABLE search_key (
  id    integer PRIMARY KEY,
  type  text    COLLATE "C" NOT NULL,
  code  text    COLLATE "C" NOT NULL,
  kind  text    NOT NULL,
  bit   integer,
  UNIQUE (type, code, kind)
);

CREATE TABLE search_state (
  id      integer PRIMARY KEY CHECK (id = 1),
  digest  text NOT NULL
);

CREATE TABLE idx_string (
  t integer NOT NULL, value text COLLATE "C" NOT NULL, rid bigint NOT NULL,
  exact text COLLATE "C" NOT NULL, params bigint NOT NULL
);
CREATE INDEX idx_string_lookup ON idx_string (t, value, rid);
CREATE INDEX idx_string_rid ON idx_string (rid);

CREATE TABLE idx_token (
  t integer NOT NULL, code text COLLATE "C" NOT NULL, system text COLLATE "C" NOT NULL,
  rid bigint NOT NULL, text text COLLATE "C" NOT NULL, params bigint NOT NULL
);
CREATE INDEX idx_token_lookup ON idx_token (t, code, system, rid);
CREATE INDEX idx_token_rid ON idx_token (rid);

CREATE TABLE idx_reference (
  t integer NOT NULL, target_id text COLLATE "C" NOT NULL,
  target_type text COLLATE "C" NOT NULL, rid bigint NOT NULL,
  url text COLLATE "C" NOT NULL, params bigint NOT NULL
);
CREATE INDEX idx_reference_lookup ON idx_reference (t, target_id, target_type, rid);
CREATE INDEX idx_reference_rid ON idx_reference (rid);

CREATE TABLE idx_date (
  p integer NOT NULL, low text COLLATE "C" NOT NULL, high text COLLATE "C" NOT NULL,
  rid bigint NOT NULL
);
CREATE INDEX idx_date_lookup ON idx_date (p, low, high, rid);
CREATE INDEX idx_date_rid ON idx_date (rid);

CREATE TABLE idx_number (
  p integer NOT NULL, low double precision NOT NULL, high double precision NOT NULL,
  rid bigint NOT NULL
);
CREATE INDEX idx_number_lookup ON idx_number (p, low, high, rid);
CREATE INDEX idx_number_rid ON idx_number (rid);

CREATE TABLE idx_quantity (
  p integer NOT NULL, low double precision NOT NULL, high double precision NOT NULL,
  rid bigint NOT NULL, system text COLLATE "C" NOT NULL, code text COLLATE "C" NOT NULL
);
CREATE INDEX idx_quantity_lookup ON idx_quantity (p, low, high, rid);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);

CREATE TABLE idx_uri (
  p integer NOT NULL, value text COLLATE "C" NOT NULL, rid bigint NOT NULL
);
CREATE INDEX idx_uri_lookup ON idx_uri (p, value, rid);
CREATE INDEX idx_uri_rid ON idx_uri (rid);

-- The current version of a resource, after taking the transaction's lock on its identity
-- (`lock_key`, computed by the adapter). In one call, so one round trip: the query runs
-- after the lock is granted, with a snapshot that sees what the lock's previous holder
-- committed (a volatile function's statements each take a new snapshot in READ
-- COMMITTED). The transaction's id is assigned here, before it takes any version seq:
-- the outbox reader relies on that order (adapter.py, outbox_after).
CREATE FUNCTION fhir_lock_current(lock_key bigint, rtype text, rname text)
RETURNS TABLE (
  r_rid bigint, type text, id text, version integer, last_updated text,
  deleted smallint, method text, data json, seq bigint
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  PERFORM pg_current_xact_id();
  RETURN QUERY
    SELECT r.rid, v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.data, v.seq
    FROM resource r JOIN version v ON v.seq = r.seq
    WHERE r.type = rtype AND r.id = rname;
END $$;
