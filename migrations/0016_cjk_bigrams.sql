-- Chinese, Japanese and Korean are written without spaces between words, so the text search
-- parser read a whole CJK sentence as one word: 夜景 found nothing inside 東京の夜景は美しい.
-- As Lucene's CJKAnalyzer does, every run of CJK characters (Han, Hiragana, Katakana,
-- Hangul) is indexed as its overlapping character bigrams (a lone character as itself), and
-- other text as before, so mixed-script text keeps its words: "Tokyo 東京タワー" indexes
-- tokyo, 東京, 京タ, タワ, ワー. Queries go through the same function (app/db/search.py);
-- app/text/cjk.py is its Python twin, for the bm25s baseline (a test keeps them equal).

CREATE FUNCTION cjk_bigrams(input text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
    run text[];
    parts text[] := '{}';
BEGIN
    IF input !~ '[\u1100-\u11FF\u3040-\u30FF\u3130-\u318F\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7AF\uF900-\uFAFF\uFF66-\uFF9F]' THEN
        RETURN input;  -- most text: no work
    END IF;
    FOR run IN SELECT regexp_matches(input, '([\u1100-\u11FF\u3040-\u30FF\u3130-\u318F\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7AF\uF900-\uFAFF\uFF66-\uFF9F]+)|([^\u1100-\u11FF\u3040-\u30FF\u3130-\u318F\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7AF\uF900-\uFAFF\uFF66-\uFF9F]+)', 'g') LOOP
        IF run[1] IS NULL THEN
            parts := parts || run[2];
        ELSIF length(run[1]) = 1 THEN
            parts := parts || run[1];
        ELSE
            parts := parts || (SELECT string_agg(substr(run[1], i, 2), ' ' ORDER BY i)
                               FROM generate_series(1, length(run[1]) - 1) AS i);
        END IF;
    END LOOP;
    RETURN array_to_string(parts, ' ');
END $$;

-- 0008's function, through the bigrams.
CREATE OR REPLACE FUNCTION chunks_set_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tsv := to_tsvector(NEW.language::regconfig, cjk_bigrams(NEW.text));
    RETURN NEW;
END $$;

-- Chunks already stored with CJK text: their postings and lengths again, as the insert
-- trigger would write them now.
CREATE TEMPORARY TABLE cjk_chunks ON COMMIT DROP AS
    SELECT id, collection_id, lexeme_count(tsv) AS old_dl FROM chunks
    WHERE text ~ '[\u1100-\u11FF\u3040-\u30FF\u3130-\u318F\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7AF\uF900-\uFAFF\uFF66-\uFF9F]';
DELETE FROM postings p USING cjk_chunks c WHERE p.chunk_id = c.id;
UPDATE chunks c SET tsv = to_tsvector(c.language::regconfig, cjk_bigrams(c.text))
FROM cjk_chunks k WHERE c.id = k.id;
INSERT INTO postings (lexeme, collection_id, chunk_id, tf, dl, language)
SELECT t.lexeme, c.collection_id, c.id, coalesce(array_length(t.positions, 1), 1),
       lexeme_count(c.tsv), c.language
FROM chunks c JOIN cjk_chunks k ON k.id = c.id, unnest(c.tsv) t;
UPDATE collections col
SET total_length = col.total_length + s.delta, version = col.version + 1
FROM (SELECT k.collection_id, sum(lexeme_count(c.tsv) - k.old_dl) AS delta
      FROM cjk_chunks k JOIN chunks c ON c.id = k.id GROUP BY k.collection_id) s
WHERE col.id = s.collection_id;

-- BM25 per language: a query analysed in one language matches only that language's
-- postings, and their document frequency is counted within the language (0008); N must be
-- too. With N over the whole collection, 4 English-detected chunks among 385 Spanish ones
-- gave the Spanish words English analysis keeps (de, la, los: no English stopwords) an idf
-- of 4, and those chunks came first for every Spanish question (XQuAD es: 0.76 against
-- bm25s 0.96). Each collection's chunks (N) and their lengths (for avgdl) are counted per
-- language, kept by the triggers.
CREATE TABLE collection_languages (
    collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    language      text NOT NULL,
    chunk_count   bigint NOT NULL DEFAULT 0,
    total_length  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (collection_id, language)
);
INSERT INTO collection_languages (collection_id, language, chunk_count, total_length)
SELECT collection_id, language, count(*), sum(lexeme_count(tsv)) FROM chunks
GROUP BY collection_id, language;

CREATE FUNCTION chunks_count_languages_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_languages AS cl (collection_id, language, chunk_count, total_length)
    SELECT collection_id, language, count(*), sum(lexeme_count(tsv)) FROM new_chunks
    GROUP BY collection_id, language
    ON CONFLICT (collection_id, language)
        DO UPDATE SET chunk_count = cl.chunk_count + EXCLUDED.chunk_count,
                      total_length = cl.total_length + EXCLUDED.total_length;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_count_languages_added AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT
    EXECUTE FUNCTION chunks_count_languages_added();

CREATE FUNCTION chunks_count_languages_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE collection_languages cl
    SET chunk_count = cl.chunk_count - s.n, total_length = cl.total_length - s.len
    FROM (SELECT collection_id, language, count(*) AS n, sum(lexeme_count(tsv)) AS len
          FROM old_chunks GROUP BY collection_id, language) s
    WHERE cl.collection_id = s.collection_id AND cl.language = s.language;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_count_languages_removed AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT
    EXECUTE FUNCTION chunks_count_languages_removed();
