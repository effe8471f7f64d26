-- Thumbs up/down on an answer, with an optional comment: one per message (the latest wins).
CREATE TABLE message_feedback (
    message_id uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    rating     smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment    text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_feedback_created_at_idx ON message_feedback (created_at DESC);
-- Searching conversations by title in the sidebar.
CREATE INDEX conversations_updated_at_idx ON conversations (updated_at DESC);
