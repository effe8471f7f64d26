-- An answer cut before it finished (the client stopped or went away, the server shut down, the
-- model failed mid-answer) is kept with what was streamed, marked so the page can offer a retry.
-- A text column with a CHECK rather than a boolean: a later state (e.g. 'stopped') is one more
-- value, not another column. Existing rows were all stored on completion.
ALTER TABLE messages
    ADD COLUMN status text NOT NULL DEFAULT 'complete'
        CHECK (status IN ('complete', 'interrupted'));
