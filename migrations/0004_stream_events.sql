-- Answer streams' events, kept for a while so an SSE client that reconnects with
-- Last-Event-ID gets the rest of its answer from any worker (when REDIS_URL is unset).
CREATE TABLE stream_events (
    stream_id  uuid NOT NULL,
    seq        integer NOT NULL,
    event      text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, seq)
);
CREATE INDEX stream_events_created_at_idx ON stream_events (created_at);
