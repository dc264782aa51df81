-- Migration 7: contained resources as search units of their own (the SQLite store's
-- migration 7, which explains the negative keys). Filled by the start-up reindex.

CREATE TABLE contained (
  rid       bigint  PRIMARY KEY,
  container bigint  NOT NULL,
  seq       bigint  NOT NULL,
  type      text    COLLATE "C" NOT NULL,
  id        text    COLLATE "C" NOT NULL
);
CREATE INDEX contained_by_type ON contained (type, rid);
