-- Collections, and the term statistics that BM25 needs, kept in step with chunks by triggers.

CREATE TABLE collections (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    chunk_count  bigint NOT NULL DEFAULT 0,  -- N in BM25
    total_length bigint NOT NULL DEFAULT 0,  -- sum of chunk lengths in lexemes: avgdl = total / N
    version      bigint NOT NULL DEFAULT 0,  -- bumped on every chunk change: cached results expire
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- The first row of the table, so id 1: documents from before collections belong to it.
INSERT INTO collections (name) VALUES ('default');

ALTER TABLE documents ADD COLUMN collection_id integer NOT NULL DEFAULT 1
    REFERENCES collections (id) ON DELETE CASCADE;
ALTER TABLE documents DROP CONSTRAINT documents_sha256_key;
ALTER TABLE documents ADD CONSTRAINT documents_collection_sha256_key UNIQUE (collection_id, sha256);

-- Copied from the document so vector and lexical searches filter without a join.
ALTER TABLE chunks ADD COLUMN collection_id integer;
UPDATE chunks c SET collection_id = d.collection_id FROM documents d WHERE d.id = c.document_id;
ALTER TABLE chunks ALTER COLUMN collection_id SET NOT NULL;
CREATE INDEX chunks_collection_idx ON chunks (collection_id);

CREATE FUNCTION chunks_set_collection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT collection_id INTO NEW.collection_id FROM documents WHERE id = NEW.document_id;
    RETURN NEW;
END $$;
CREATE TRIGGER chunks_set_collection BEFORE INSERT ON chunks
    FOR EACH ROW EXECUTE FUNCTION chunks_set_collection();

-- BM25's document length: how many lexemes (stopwords excluded) a chunk holds.
CREATE FUNCTION lexeme_count(tsvector) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::integer FROM unnest($1) $$;

-- An inverted index: one row per (lexeme, chunk) with the term frequency and the chunk's
-- length, so a query reads only the postings of its own terms (an index-only scan).
CREATE TABLE postings (
    lexeme        text NOT NULL,
    collection_id integer NOT NULL,
    chunk_id      bigint NOT NULL,
    tf            integer NOT NULL,
    dl            integer NOT NULL
);

INSERT INTO postings (lexeme, collection_id, chunk_id, tf, dl)
SELECT t.lexeme, c.collection_id, c.id, coalesce(array_length(t.positions, 1), 1),
       lexeme_count(c.tsv)
FROM chunks c, unnest(c.tsv) t;
CREATE INDEX postings_term_idx ON postings (lexeme, collection_id) INCLUDE (chunk_id, tf, dl);
CREATE INDEX postings_chunk_idx ON postings (chunk_id);

UPDATE collections col SET chunk_count = s.n, total_length = s.len, version = col.version + 1
FROM (SELECT collection_id, count(*) AS n, sum(lexeme_count(tsv)) AS len
      FROM chunks GROUP BY collection_id) s
WHERE col.id = s.collection_id;

CREATE FUNCTION chunks_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH lengths AS (
        SELECT id, collection_id, tsv, lexeme_count(tsv) AS dl FROM new_chunks
    ), added AS (
        INSERT INTO postings (lexeme, collection_id, chunk_id, tf, dl)
        SELECT t.lexeme, l.collection_id, l.id, coalesce(array_length(t.positions, 1), 1), l.dl
        FROM lengths l, unnest(l.tsv) t
    )
    UPDATE collections col
    SET chunk_count = col.chunk_count + s.n, total_length = col.total_length + s.len,
        version = col.version + 1
    FROM (SELECT collection_id, count(*) AS n, sum(dl) AS len FROM lengths GROUP BY collection_id) s
    WHERE col.id = s.collection_id;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_after_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_after_insert();

CREATE FUNCTION chunks_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH removed AS (
        DELETE FROM postings p USING old_chunks o WHERE p.chunk_id = o.id
    )
    UPDATE collections col
    SET chunk_count = col.chunk_count - s.n, total_length = col.total_length - s.len,
        version = col.version + 1
    FROM (SELECT collection_id, count(*) AS n, sum(lexeme_count(tsv)) AS len
          FROM old_chunks GROUP BY collection_id) s
    WHERE col.id = s.collection_id;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_after_delete();

-- m = 16, ef_construction = 128: on msmarco this graph gives the same nDCG@10 as exact search
-- at ef_search = 40 (the default ef_construction = 64 lost 0.017). See docs/retrieval.md.
DROP INDEX chunks_embedding_idx;
CREATE INDEX chunks_embedding_idx ON chunks
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128);
