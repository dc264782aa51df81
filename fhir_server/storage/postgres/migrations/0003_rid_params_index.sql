-- Migration 3: the rid indexes of the shared-row tables carry the parameter bit set (the
-- SQLite store's migration 4). Correlated probes (`… WHERE i.rid = r.rid AND
-- (i.params & ?) <> 0`) and the reverse look-up of _has can then be index-only scans.

DROP INDEX IF EXISTS idx_string_rid;
CREATE INDEX idx_string_rid ON idx_string (rid, params);

DROP INDEX IF EXISTS idx_token_rid;
CREATE INDEX idx_token_rid ON idx_token (rid, params);

DROP INDEX IF EXISTS idx_reference_rid;
CREATE INDEX idx_reference_rid ON idx_reference (rid, params);
