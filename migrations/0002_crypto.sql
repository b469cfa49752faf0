-- Encryption: one device and crypto identity per ghost and for the bot, what we know about
-- rooms (encryption, history visibility, members), device-list changes still to apply, and
-- encrypted events waiting for their room key.

CREATE TABLE crypto_identities (
    user_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    device_created BOOLEAN NOT NULL DEFAULT FALSE,
    cross_signing_done BOOLEAN NOT NULL DEFAULT FALSE,
    -- The last device_list_changes.seq this identity's machine has been told about.
    device_changes_seen BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Users whose devices changed (from transactions), for machines that were not open then.
CREATE TABLE device_list_changes (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY,
    -- The m.room.encryption content as JSON; NULL when the room is not encrypted.
    encryption TEXT,
    history_visibility TEXT NOT NULL DEFAULT 'shared',
    members_loaded BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Encrypted events the bot could not decrypt yet (the key usually arrives a moment later).
CREATE TABLE parked_events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    session_id TEXT,
    event TEXT NOT NULL,
    parked_at BIGINT NOT NULL
);
CREATE INDEX parked_by_session ON parked_events(room_id, session_id);
