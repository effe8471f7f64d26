-- Sources: folders (and later websites, buckets) kept in sync with a collection. A synced
-- document's identity is (source, item key), not its content: two items may hold the same
-- bytes, so the one-copy-per-collection rule on sha256 holds for uploads only.
CREATE TABLE sources (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    kind          text NOT NULL,
    collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    settings      jsonb NOT NULL DEFAULT '{}',
    every_minutes integer CHECK (every_minutes BETWEEN 1 AND 525600),
    paused        boolean NOT NULL DEFAULT false,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    last_sync_at  timestamptz,
    last_error    text,  -- why the last sync stopped (a failed listing), for people
    last_counts   jsonb, -- added, changed, removed, unchanged, chunks_embedded, chunks_kept
    created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE documents ADD COLUMN source_id integer REFERENCES sources (id) ON DELETE CASCADE;
ALTER TABLE documents ADD COLUMN item_key text;
ALTER TABLE documents ADD COLUMN item_stamp text;
CREATE UNIQUE INDEX documents_source_item_idx ON documents (source_id, item_key)
    WHERE source_id IS NOT NULL;
ALTER TABLE documents DROP CONSTRAINT documents_collection_sha256_key;
CREATE UNIQUE INDEX documents_collection_sha256_key ON documents (collection_id, sha256)
    WHERE source_id IS NULL;

-- At most one sync of a source waiting or running, however many workers and requests.
-- The schedule is the next sync job itself, queued with run_after = the next time.
CREATE UNIQUE INDEX jobs_one_sync_idx ON jobs ((payload->>'source_id'))
    WHERE kind = 'sync' AND status IN ('queued', 'running');
