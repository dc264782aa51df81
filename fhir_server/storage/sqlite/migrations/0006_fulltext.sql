-- Migration 6: the words of _text and _content (search/fulltext.py), one row per resource.
--
-- An FTS5 table keyed by the resource's rid (rowid). The words are found and folded by
-- the server, so that the PostgreSQL store holds the same ones: separated by spaces,
-- made of letters and digits (and the narrative mark §), which the `ascii` tokenizer
-- keeps as they are. `detail=none`: word-prefix queries need no positions. Filled by the
-- start-up reindex (search/indexer.py INDEX_FORMAT).

CREATE VIRTUAL TABLE idx_fulltext USING fts5(words, tokenize = 'ascii', detail = none);
