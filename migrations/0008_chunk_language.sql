-- Lexical search in the chunk's own language: each chunk records the PostgreSQL text search
-- configuration it was indexed with (detected at ingestion), each collection the set of
-- configurations its chunks use, so a query is analysed once per language of its scope.

ALTER TABLE chunks ADD COLUMN language text NOT NULL DEFAULT 'english';
-- The configuration is now per row, which a generated column cannot express (a text to
-- regconfig cast is not immutable): the column keeps its values and a trigger fills it.
ALTER TABLE chunks ALTER COLUMN tsv DROP EXPRESSION;

CREATE FUNCTION chunks_set_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tsv := to_tsvector(NEW.language::regconfig, NEW.text);
    RETURN NEW;
END $$;
CREATE TRIGGER chunks_set_tsv BEFORE INSERT ON chunks
    FOR EACH ROW EXECUTE FUNCTION chunks_set_tsv();

ALTER TABLE collections ADD COLUMN languages text[] NOT NULL DEFAULT '{}';
UPDATE collections SET languages = '{english}' WHERE chunk_count > 0;

-- Languages are only added: one left behind by deleted chunks costs a query one more
-- analysis, and no wrong result.
CREATE FUNCTION chunks_add_languages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE collections col
    SET languages = col.languages || added.languages
    FROM (SELECT n.collection_id, array_agg(DISTINCT n.language) AS languages
          FROM new_chunks n JOIN collections c ON c.id = n.collection_id
          WHERE NOT n.language = ANY(c.languages)
          GROUP BY n.collection_id) added
    WHERE col.id = added.collection_id;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_add_languages AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION chunks_add_languages();

-- A posting keeps its chunk's language, so a query's French lexemes match only French
-- chunks' postings (and BM25's document frequency counts within one language): in a mixed
-- collection an English query analysed as French must not hit English postings by chance.
ALTER TABLE postings ADD COLUMN language text NOT NULL DEFAULT 'english';
DROP INDEX postings_term_idx;
CREATE INDEX postings_term_idx ON postings (lexeme, collection_id, language)
    INCLUDE (chunk_id, tf, dl);

-- 0003's function, with the language.
CREATE OR REPLACE FUNCTION chunks_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH lengths AS (
        SELECT id, collection_id, tsv, language, lexeme_count(tsv) AS dl FROM new_chunks
    ), added AS (
        INSERT INTO postings (lexeme, collection_id, chunk_id, tf, dl, language)
        SELECT t.lexeme, l.collection_id, l.id, coalesce(array_length(t.positions, 1), 1), l.dl,
               l.language
        FROM lengths l, unnest(l.tsv) t
    )
    UPDATE collections col
    SET chunk_count = col.chunk_count + s.n, total_length = col.total_length + s.len,
        version = col.version + 1
    FROM (SELECT collection_id, count(*) AS n, sum(dl) AS len FROM lengths GROUP BY collection_id) s
    WHERE col.id = s.collection_id;
    RETURN NULL;
END $$;
