-- OpenID Connect sign-in: identities linked to users, sign-ins in progress; disabled users;
-- collection names unique per owner.

-- A disabled user's sessions and keys open nothing and no sign-in method lets them in.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- An account at an OpenID Provider (issuer, subject) linked to one user of ours: made at the
-- first sign-in, by a new user or an existing one with the same verified email.
CREATE TABLE user_identities (
    issuer        text NOT NULL,
    subject       text NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_sign_in  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- A sign-in sent to the provider and not yet back: what the callback must check (nonce) and
-- send (PKCE verifier), keyed by the SHA-256 of its state; used once, gone after ten minutes.
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    next_path     text NOT NULL DEFAULT '/',
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expires_idx ON oidc_logins (expires_at);

-- Audit details were stored JSON-encoded twice (a JSON string holding the object): unwrap them.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET details = (details #>> '{}')::jsonb WHERE jsonb_typeof(details) = 'string';
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;

-- Collection names are unique per owner (collections without one, such as 'default', among
-- themselves): creating a collection no longer tells whether someone's private one has that
-- name. A name is resolved within what the caller may read (app/auth/access.py).
ALTER TABLE collections DROP CONSTRAINT collections_name_key;
ALTER TABLE collections ADD CONSTRAINT collections_owner_name_key
    UNIQUE NULLS NOT DISTINCT (owner_id, name);
CREATE INDEX collections_name_idx ON collections (name);
