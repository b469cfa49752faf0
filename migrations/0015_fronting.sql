-- Fronting (issue 9): switches and who was in each, per-room autoproxy, the system's
-- settings (`pk;config`), per-tag keepproxy, and finding a room's latest proxied message.

-- A registered switch: from `at` on, its members front (none: a switch-out).
CREATE TABLE switches (
    id INTEGER PRIMARY KEY,
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    -- The command event that registered it (a retried command finds it here).
    created_by_event TEXT UNIQUE,
    -- The timestamp as an imported file wrote it (finer than ms), exported while `at` is unchanged.
    imported_timestamp TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX switches_by_system ON switches(system_id, at);

-- The members of a switch, first fronter first. A deleted member leaves its switches.
CREATE TABLE switch_members (
    switch_id INTEGER NOT NULL REFERENCES switches(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    PRIMARY KEY (switch_id, position)
);
CREATE INDEX switch_members_by_member ON switch_members(member_id);

-- Autoproxy per room (PluralKit's is per server). `mode` NULL: the room follows the
-- system's default (systems.autoproxy_mode); the latch always belongs to the room.
CREATE TABLE room_autoproxy (
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    room_id TEXT NOT NULL,
    mode TEXT,
    member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
    latch_member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
    latch_at BIGINT,
    PRIMARY KEY (system_id, room_id)
);

-- `pk;config`. NULL timezone: UTC. NULL latch timeout: the daemon's default; 0: never.
ALTER TABLE systems ADD COLUMN timezone TEXT;
ALTER TABLE systems ADD COLUMN latch_timeout_ms BIGINT;
ALTER TABLE systems ADD COLUMN pings_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE systems ADD COLUMN case_sensitive_tags BOOLEAN NOT NULL DEFAULT TRUE;
-- 'off', 'new' (a proxied message by a non-fronter registers a switch to them) or 'add'.
ALTER TABLE systems ADD COLUMN proxy_switch TEXT NOT NULL DEFAULT 'off';
ALTER TABLE systems ADD COLUMN member_default_private BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE systems ADD COLUMN group_default_private BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE systems ADD COLUMN show_private BOOLEAN NOT NULL DEFAULT TRUE;

-- keepproxy for one tag (beyond PluralKit, where it is per member).
ALTER TABLE proxy_tags ADD COLUMN keep BOOLEAN NOT NULL DEFAULT FALSE;

-- `pk;edit` / `pk;reproxy` without a reply: the system's latest proxied message in a room.
CREATE INDEX proxied_by_room ON proxied_messages(room_id, system_id, created_at);
