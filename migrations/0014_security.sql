-- Security: API key scopes, the first-admin setup token, the audit log.

-- A key's scopes: only a key with 'keys' may create more keys (a signed-in browser always may).
-- Keys made before scopes have none.
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';

-- Outside local mode a site without an admin is set up only with this one-time token, printed
-- in the web process's log (its SHA-256 is stored; one row at most).
CREATE TABLE setup_token (
    only_one   boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Security events, append-only: who (actor, address, user agent) did what (action) to what
-- (target), when. No foreign keys: the log outlives the users and collections it names.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,
    actor_id    uuid,
    actor_email text,
    address     text,
    user_agent  text,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (lower(actor_email), at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);

-- Rows are never changed; they are deleted only by the retention sweep, which says so first
-- (SET LOCAL audit.pruning = 'on') and only past AUDIT_RETENTION_DAYS.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('audit.pruning', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
