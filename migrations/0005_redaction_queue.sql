-- Originals to redact once their ghost message is sent (src/bridge/redactions.rs): queued in
-- the same database transaction that records the proxied message, deleted once redacted, so
-- a redaction is neither forgotten across a crash nor holds up the room's next message.
CREATE TABLE pending_redactions (
    target TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    -- The event whose handling asked for it (keys a notice when the bot may not redact).
    cause TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL DEFAULT 0,
    queued_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX pending_redactions_due ON pending_redactions(not_before);
