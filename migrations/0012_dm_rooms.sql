-- The bot's direct-message room with a user (for exports and other private answers).
CREATE TABLE dm_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
