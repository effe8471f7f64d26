-- Each chunk's sentence vectors (float16 rows, in sentence order), pooled from the chunk's own
-- embedding pass, so the extractive answerer ranks sentences without running the model.
-- NULL (older chunks, or a provider that cannot pool) means: embed the sentences when asked.
ALTER TABLE chunks ADD COLUMN sentence_vectors bytea;
-- Vectors do not compress: store them out of line without trying.
ALTER TABLE chunks ALTER COLUMN sentence_vectors SET STORAGE EXTERNAL;
