-- A document's file is stored as ordered parts (1 MiB each, written with COPY from the
-- upload's spool file), so no process holds a whole upload in memory to store it.
-- Existing files become their document's part 0.
ALTER TABLE document_files ADD COLUMN part integer NOT NULL DEFAULT 0;
ALTER TABLE document_files DROP CONSTRAINT document_files_pkey;
ALTER TABLE document_files ADD PRIMARY KEY (document_id, part);
ALTER TABLE document_files ALTER COLUMN part DROP DEFAULT;
