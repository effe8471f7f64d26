-- Ingestion: which worker holds a job, and which embedding model the stored vectors came from.
ALTER TABLE jobs ADD COLUMN locked_by text;

-- One row: the model that produced every vector in chunks.embedding. Startup refuses a
-- different configured model until `python -m app reindex` has re-embedded everything.
CREATE TABLE embedding_model (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name       text NOT NULL,
    dimension  integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
