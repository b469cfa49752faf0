-- Room keys the bot asked other users' devices for (see src/crypto/key_requests.rs).
CREATE TABLE key_requests (
    session_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_device TEXT NOT NULL,
    -- The Megolm session's sender key: the curve25519 key of the device that made it.
    sender_key TEXT NOT NULL,
    request_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX key_requests_by_sender_key ON key_requests(sender_key);
