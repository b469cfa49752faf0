-- `pk;link` questions waiting for the other account's `yes`. The question is the bot's
-- reply to the command event (found through `effects`: cause = command_event, purpose
-- 'reply'); only a reply to it from `target` before `expires_at` links the account.
CREATE TABLE pending_links (
    command_event TEXT PRIMARY KEY,
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    room_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
