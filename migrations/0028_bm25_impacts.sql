-- Lexical search that reads a bounded number of postings per query term, whatever the size
-- of the collection (app/db/search.py). Until now a query read and scored every posting of
-- its terms: a common word at a million chunks has tens of thousands.
--
-- 1. Each posting keeps its impact: BM25's term-frequency part,
--    tf / (tf + k1 · (1 - b + b · dl / avgdl)) with k1 = 1.2, b = 0.75 and the avgdl of its
--    collection and language when it was written. Within one term's list (one lexeme, one
--    collection, one language) idf is the same for every posting, so this orders the list by
--    BM25 contribution, and the term index now keeps that order: a query reads the best
--    postings of a long list first and stops. The impact only picks candidates; scores are
--    computed exactly from tf and dl with the current N and avgdl, so an impact left stale
--    by later inserts (avgdl moves) can cost recall, never a wrong score.
-- 2. Each term's document frequency per collection and language (`lexicon`), kept by
--    triggers on postings: idf needs df, and counting a common word's postings per query is
--    the very cost being removed.
-- 3. The chunk index gains the lexeme, so a candidate's exact score reads only its own
--    postings of the query's terms (one index descent per candidate).

-- The avgdl a collection's language's impacts were last written with.
ALTER TABLE collection_languages ADD COLUMN impact_avgdl float8;
UPDATE collection_languages
SET impact_avgdl = greatest(total_length::float8 / greatest(chunk_count, 1), 1);

ALTER TABLE postings ADD COLUMN impact real;
UPDATE postings p
SET impact = p.tf / (p.tf + 1.2 * (1 - 0.75 + 0.75 * p.dl / cl.impact_avgdl))
FROM collection_languages cl
WHERE cl.collection_id = p.collection_id AND cl.language = p.language;
UPDATE postings SET impact = tf::float8 / (tf + 1.2) WHERE impact IS NULL;
ALTER TABLE postings ALTER COLUMN impact SET NOT NULL;

DROP INDEX postings_term_idx;
CREATE INDEX postings_term_idx ON postings (lexeme, collection_id, language, impact DESC)
    INCLUDE (chunk_id, tf, dl);
DROP INDEX postings_chunk_idx;
CREATE INDEX postings_chunk_idx ON postings (chunk_id, lexeme) INCLUDE (tf, dl, language);

CREATE TABLE lexicon (
    lexeme        text NOT NULL,
    collection_id integer NOT NULL,  -- no foreign key: a deleted collection's postings go
    language      text NOT NULL,     -- with its chunks, and their rows here with them
    df            integer NOT NULL,  -- chunks of this collection and language holding it
    PRIMARY KEY (lexeme, collection_id, language)
);
INSERT INTO lexicon (lexeme, collection_id, language, df)
SELECT lexeme, collection_id, language, count(*) FROM postings
GROUP BY lexeme, collection_id, language;

-- Rows are upserted in key order, so two writers of the same collection take their row
-- locks in one order and never deadlock (they already queue on the collection's row).
CREATE FUNCTION postings_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lexicon AS x (lexeme, collection_id, language, df)
    SELECT lexeme, collection_id, language, count(*) FROM new_postings
    GROUP BY lexeme, collection_id, language
    ORDER BY lexeme, collection_id, language
    ON CONFLICT (lexeme, collection_id, language) DO UPDATE SET df = x.df + EXCLUDED.df;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_count_added AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT
    EXECUTE FUNCTION postings_count_added();

CREATE FUNCTION postings_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lexicon x SET df = x.df - s.n
    FROM (SELECT lexeme, collection_id, language, count(*) AS n FROM old_postings
          GROUP BY lexeme, collection_id, language
          ORDER BY lexeme, collection_id, language) s
    WHERE x.lexeme = s.lexeme AND x.collection_id = s.collection_id AND x.language = s.language;
    -- A term no chunk holds any more goes (a second statement: it must see the update).
    DELETE FROM lexicon x
    USING (SELECT DISTINCT lexeme, collection_id, language FROM old_postings) s
    WHERE x.df <= 0 AND x.lexeme = s.lexeme AND x.collection_id = s.collection_id
      AND x.language = s.language;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_count_removed AFTER DELETE ON postings
    REFERENCING OLD TABLE AS old_postings FOR EACH STATEMENT
    EXECUTE FUNCTION postings_count_removed();

-- 0016's function; a new collection's language records the avgdl its first impacts got.
CREATE OR REPLACE FUNCTION chunks_count_languages_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_languages AS cl
        (collection_id, language, chunk_count, total_length, impact_avgdl)
    SELECT collection_id, language, count(*), sum(dl), greatest(sum(dl)::float8 / count(*), 1)
    FROM (SELECT collection_id, language, lexeme_count(tsv) AS dl FROM new_chunks) n
    GROUP BY collection_id, language
    ON CONFLICT (collection_id, language)
        DO UPDATE SET chunk_count = cl.chunk_count + EXCLUDED.chunk_count,
                      total_length = cl.total_length + EXCLUDED.total_length;
    RETURN NULL;
END $$;

-- Staleness: a posting's impact keeps the avgdl of its day. Impacts only choose what is
-- read first (scores are exact), so drift costs recall, not correctness; but a collection's
-- first chunks set avgdl alone, and a long first document would leave every short chunk
-- after it ranked too high in its lists. Once avgdl has moved by more than a quarter since
-- a collection's language's impacts were written, they are all written again: that takes
-- adding a good share of the collection again, so the rewrite costs each posting a bounded
-- number of writes over its life. Runs after chunks_count_languages_added (name order).
CREATE FUNCTION chunks_refresh_impacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH drifted AS (
        UPDATE collection_languages cl
        SET impact_avgdl = greatest(cl.total_length::float8 / greatest(cl.chunk_count, 1), 1)
        FROM (SELECT DISTINCT collection_id, language FROM new_chunks) n
        WHERE cl.collection_id = n.collection_id AND cl.language = n.language
          AND abs(greatest(cl.total_length::float8 / greatest(cl.chunk_count, 1), 1)
                  / cl.impact_avgdl - 1) > 0.25
        RETURNING cl.collection_id, cl.language, cl.impact_avgdl
    )
    UPDATE postings p
    SET impact = p.tf / (p.tf + 1.2 * (1 - 0.75 + 0.75 * p.dl / d.impact_avgdl))
    FROM drifted d
    WHERE p.collection_id = d.collection_id AND p.language = d.language;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_refresh_impacts AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT
    EXECUTE FUNCTION chunks_refresh_impacts();

-- 0008's function, writing each posting's impact with its collection and language's avgdl
-- as it is once this statement's chunks are counted.
CREATE OR REPLACE FUNCTION chunks_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH lengths AS (
        SELECT id, collection_id, tsv, language, lexeme_count(tsv) AS dl FROM new_chunks
    ), sizes AS (
        SELECT l.collection_id, l.language,
               (coalesce(max(cl.total_length), 0) + sum(l.dl))::float8
               / greatest(coalesce(max(cl.chunk_count), 0) + count(*), 1) AS avgdl
        FROM lengths l
        LEFT JOIN collection_languages cl
               ON cl.collection_id = l.collection_id AND cl.language = l.language
        GROUP BY l.collection_id, l.language
    ), added AS (
        INSERT INTO postings (lexeme, collection_id, chunk_id, tf, dl, language, impact)
        SELECT t.lexeme, l.collection_id, l.id, tf.tf, l.dl, l.language,
               tf.tf / (tf.tf + 1.2 * (1 - 0.75 + 0.75 * l.dl / greatest(s.avgdl, 1)))
        FROM lengths l
        JOIN sizes s ON s.collection_id = l.collection_id AND s.language = l.language,
             unnest(l.tsv) t,
             LATERAL (SELECT coalesce(array_length(t.positions, 1), 1) AS tf) tf
    )
    UPDATE collections col
    SET chunk_count = col.chunk_count + s.n, total_length = col.total_length + s.len,
        version = col.version + 1
    FROM (SELECT collection_id, count(*) AS n, sum(dl) AS len FROM lengths GROUP BY collection_id) s
    WHERE col.id = s.collection_id;
    RETURN NULL;
END $$;
