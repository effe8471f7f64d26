-- Read-only share links of a conversation: a snapshot of its messages taken when the link was
-- made, so what is added, renamed or deleted later is never shown through it. The link's
-- token is a random secret stored only as its SHA-256 digest (like API keys); revoking or
-- expiring a link keeps its row, so an old link says why it no longer works.
CREATE TABLE conversation_shares (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash      bytea NOT NULL UNIQUE,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           text NOT NULL,
    messages        jsonb NOT NULL,  -- [{"role", "content", "sources", "status", "created_at"}]
    public          boolean NOT NULL DEFAULT false,  -- viewers need not sign in
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX conversation_shares_conversation_idx ON conversation_shares (conversation_id);
