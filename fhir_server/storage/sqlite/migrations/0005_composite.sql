-- Migration 5: rows of composite search parameters (search.html#composite).
--
-- One row per value of one component of one item a composite parameter selects: `p` the
-- parameter's key, `g` the item's number within the resource (an Observation.component),
-- `n` the component's position. A composite value matches when the rows of ONE item (same
-- rid, p and g) match each component at its position. A row fills the columns of its
-- component's type, named as in the other index tables so that one condition serves both:
-- token system/code; string value/exact; reference target_type/target_id/url; uri value;
-- number low/high; quantity low/high/system/code; date dlow/dhigh (instants as text).
-- Empty until the start-up reindex (search/indexer.py INDEX_FORMAT) fills it.

CREATE TABLE idx_composite (
  p INTEGER NOT NULL, rid INTEGER NOT NULL, g INTEGER NOT NULL, n INTEGER NOT NULL,
  system TEXT, code TEXT, value TEXT, exact TEXT,
  target_type TEXT, target_id TEXT, url TEXT,
  low REAL, high REAL, dlow TEXT, dhigh TEXT
);
-- the first component finds the rows (a code, with or without its system)
CREATE INDEX idx_composite_lookup ON idx_composite (p, code, system);
-- the other components of the same item, and a resource's rows when it changes
CREATE INDEX idx_composite_rid ON idx_composite (rid, p, g, n);
