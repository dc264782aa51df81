-- Migration 4: rows of composite search parameters (the SQLite store's migration 5, which
-- explains the layout): per item `g` of the parameter `p`, each component `n` in the
-- columns of its type. Filled by the start-up reindex (search/indexer.py INDEX_FORMAT).

CREATE TABLE idx_composite (
  p integer NOT NULL, rid bigint NOT NULL, g integer NOT NULL, n integer NOT NULL,
  system text COLLATE "C", code text COLLATE "C", value text COLLATE "C",
  exact text COLLATE "C", target_type text COLLATE "C", target_id text COLLATE "C",
  url text COLLATE "C", low double precision, high double precision,
  dlow text COLLATE "C", dhigh text COLLATE "C"
);
CREATE INDEX idx_composite_lookup ON idx_composite (p, code, system);
CREATE INDEX idx_composite_rid ON idx_composite (rid, p, g, n);
