-- Keep each chunk's vector in its row. pgvector's type defaults to EXTERNAL storage, and a
-- chunk's row (its text, tsv and sentence vectors beside the 1.5 KB vector) passes the 2 KB
-- TOAST threshold, so the vector went out of line: every exact distance (scoped search of a
-- small collection, the similarity of a returned candidate) and every HNSW build read it
-- through the TOAST index. MAIN keeps it inline and lets the other columns go out first.
-- Rows written before keep their out-of-line vectors until rewritten (`python -m app
-- reindex`, or VACUUM FULL chunks).
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
