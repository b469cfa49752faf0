-- pluralmatrix schema, version 1.
-- Written to be portable: plain types, BIGINT millisecond timestamps, no SQLite-only syntax
-- beyond INTEGER PRIMARY KEY (which PostgreSQL migrations will spell BIGSERIAL/identity).

-- A plural system. Short IDs are PluralKit-style five-letter IDs; slugs go into ghost IDs.
CREATE TABLE systems (
    id INTEGER PRIMARY KEY,
    short_id TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    name TEXT,
    tag TEXT,
    autoproxy_mode TEXT NOT NULL DEFAULT 'off',
    autoproxy_member_id INTEGER,
    latch_member_id INTEGER,
    latch_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Matrix accounts that belong to a system (one system per account).
CREATE TABLE accounts (
    user_id TEXT PRIMARY KEY,
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX accounts_by_system ON accounts(system_id);

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    short_id TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT,
    avatar_url TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (system_id, slug)
);

-- A member's proxy tags, in the order the user gave them.
CREATE TABLE proxy_tags (
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    prefix TEXT NOT NULL,
    suffix TEXT NOT NULL,
    PRIMARY KEY (member_id, position)
);

-- Ghost accounts on the homeserver and the state we last gave them. A ghost outlives its
-- member (member_id becomes NULL) so its account is never handed to someone else.
CREATE TABLE ghosts (
    user_id TEXT PRIMARY KEY,
    member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
    system_slug TEXT NOT NULL,
    member_slug TEXT NOT NULL,
    registered BOOLEAN NOT NULL DEFAULT FALSE,
    display_name TEXT,
    avatar_url TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX ghosts_by_member ON ghosts(member_id);
CREATE INDEX ghosts_by_slugs ON ghosts(system_slug, member_slug);

-- Rooms a ghost has joined (a cache: a failed send clears it).
CREATE TABLE ghost_rooms (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- Every transaction the homeserver pushed, stored raw before it was acknowledged.
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    txn_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    error TEXT
);
CREATE INDEX journal_pending ON journal(processed_at, seq);

-- Events already handled (the homeserver may deliver an event twice).
CREATE TABLE processed_events (
    event_id TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);

-- Events whose handling failed, with why.
CREATE TABLE event_failures (
    event_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);

-- Proxied messages: the user's original, the ghost's copy, and who sent it.
CREATE TABLE proxied_messages (
    original_event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    ghost_event_id TEXT,
    ghost_user_id TEXT NOT NULL,
    member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
    system_id INTEGER REFERENCES systems(id) ON DELETE SET NULL,
    sender TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX proxied_by_ghost_event ON proxied_messages(ghost_event_id);

-- One-off notices already posted in a room (e.g. "I cannot redact here").
CREATE TABLE room_notices (
    room_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, kind)
);

-- Destructive commands waiting for the user to confirm.
CREATE TABLE pending_confirmations (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    action TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
