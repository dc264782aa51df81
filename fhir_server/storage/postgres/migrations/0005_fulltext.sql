-- Migration 5: the words of _text and _content (the SQLite store's migration 6), one row
-- per resource: the server's words as the lexemes of a tsvector (array_to_tsvector: no
-- parser, no dictionary, so both stores hold the same words), found by prefix queries
-- (`'diab':*`) through a GIN index. Filled by the start-up reindex.

CREATE TABLE idx_fulltext (rid bigint NOT NULL, words tsvector NOT NULL);
CREATE INDEX idx_fulltext_words ON idx_fulltext USING gin (words);
CREATE INDEX idx_fulltext_rid ON idx_fulltext (rid);
