-- Accounts and access: users, browser sessions, API keys, invitations, collection owners and
-- members, conversations owned by their user.

CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL,
    password_hash       text NOT NULL,
    role                text NOT NULL CHECK (role IN ('admin', 'editor', 'reader')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique whatever their case.
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));

-- The cookie holds a random id; only its SHA-256 is stored, so a leaked table opens nothing.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL  -- the absolute limit; idleness is checked on last_seen_at
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,  -- shown in lists, and how a key is revoked
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE invitations (
    token_hash bytea PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('admin', 'editor', 'reader')),
    email      text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    uuid REFERENCES users (id) ON DELETE SET NULL
);

-- Collections from before accounts stay readable by everyone signed in ('shared'); the app
-- creates a user's new collections as 'private'.
ALTER TABLE collections
    ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN visibility text NOT NULL DEFAULT 'shared'
        CHECK (visibility IN ('private', 'shared'));

CREATE TABLE collection_members (
    collection_id integer NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, user_id)
);
CREATE INDEX collection_members_user_idx ON collection_members (user_id);

-- Conversations from before accounts have no owner and are shown to nobody.
ALTER TABLE conversations ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX conversations_user_idx ON conversations (user_id, updated_at DESC);
