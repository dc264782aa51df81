-- Migration 7: contained resources as search units of their own (search.html#contained).
--
-- One row per contained resource of a current container. Its key `rid` is negative, so
-- that its rows in the index tables (keyed by rid like a resource's) never meet a
-- resource's: -(container rid * 2^20 + position in `contained` + 1). A container's
-- contained resources are the key range below -(container * 2^20), which a write of the
-- container deletes (sqlite/contained_rows.py) before it inserts the new ones. `seq` is
-- the container's current version (its lastUpdated), `id` the local id.
-- Filled by the start-up reindex (search/indexer.py INDEX_FORMAT).

CREATE TABLE contained (
  rid       INTEGER PRIMARY KEY,
  container INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  id        TEXT    NOT NULL
);
CREATE INDEX contained_by_type ON contained (type);
