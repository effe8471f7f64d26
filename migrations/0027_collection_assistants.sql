-- Each collection's assistant: how questions asked of that collection alone are answered.
-- A NULL setting (and a collection without a row) means the site's default. The bounds are
-- the API's (app/rag/assistant.py), kept here too so no other writer can store more.
CREATE TABLE collection_assistants (
    collection_id integer PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    instructions  text NOT NULL DEFAULT '' CHECK (length(instructions) <= 4000),
    length        text CHECK (length IN ('short', 'medium', 'long')),
    passages      integer CHECK (passages BETWEEN 1 AND 20),
    rerank        boolean,
    model         text CHECK (length(model) BETWEEN 1 AND 200),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid REFERENCES users (id) ON DELETE SET NULL
);
