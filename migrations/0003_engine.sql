-- The engine: transactions deduplicated by ID *and* body (Synapse restarts its transaction
-- counter at 1), room events queued per room at intake, every effect recorded once, dead
-- letters, and crypto input consumed once per identity.

-- The journal, rebuilt: the unique key becomes (txn_id, body_hash). `processed_at` now means
-- "its crypto input is applied" (set at intake when there is none); `gates` says whether its
-- room events must wait for that (to-device messages or device-list changes).
CREATE TABLE journal_v3 (
    seq INTEGER PRIMARY KEY,
    txn_id TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    error TEXT,
    gates BOOLEAN NOT NULL DEFAULT TRUE,
    -- Whether its events are in room_events (rows from before this version are not).
    events_queued BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (txn_id, body_hash)
);
INSERT INTO journal_v3 (seq, txn_id, body_hash, body, received_at, processed_at, error, gates, events_queued)
    SELECT seq, txn_id, 'v2:' || txn_id, body, received_at, processed_at, error, TRUE, processed_at IS NOT NULL
    FROM journal;
DROP TABLE journal;
ALTER TABLE journal_v3 RENAME TO journal;
CREATE INDEX journal_pending ON journal(processed_at, seq);

-- Every room event, in arrival order, from intake until it is settled. `state`: pending,
-- parked (waiting for its room key), done, dead (see dead_letters). Also the set of event IDs
-- already seen (the homeserver may deliver an event twice).
CREATE TABLE room_events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    journal_seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    settled_at BIGINT
);
CREATE INDEX room_events_pending ON room_events(state, room_id, id);
INSERT INTO room_events (event_id, room_id, journal_seq, body, received_at, state, settled_at)
    SELECT event_id, '', 0, '', processed_at, 'done', processed_at FROM processed_events;
DROP TABLE processed_events;

-- Events given up on, with why.
CREATE TABLE dead_letters (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    sender TEXT,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    body TEXT NOT NULL,
    dead_at BIGINT NOT NULL
);

-- Writes to the homeserver already done, by what caused them: (cause event, purpose) → the
-- event ID the homeserver answered with. A retry finds the record and does not write again.
CREATE TABLE effects (
    cause TEXT NOT NULL,
    purpose TEXT NOT NULL,
    result TEXT NOT NULL,
    done_at BIGINT NOT NULL,
    PRIMARY KEY (cause, purpose)
);

-- A command's answer, by the event that gave it: a retried command re-sends this answer
-- instead of running again.
CREATE TABLE command_results (
    event_id TEXT PRIMARY KEY,
    reply TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The event that created a system or member (so a retried `new` finds what it made).
ALTER TABLE systems ADD COLUMN created_by_event TEXT;
ALTER TABLE members ADD COLUMN created_by_event TEXT;
CREATE UNIQUE INDEX systems_by_creating_event ON systems(created_by_event);
CREATE UNIQUE INDEX members_by_creating_event ON members(created_by_event);

-- Which identities have taken their part of a transaction's crypto input (consumed once).
CREATE TABLE crypto_applied (
    journal_seq BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (journal_seq, user_id)
);
