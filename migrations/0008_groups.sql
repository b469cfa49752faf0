-- Groups of members (PluralKit's groups): profile fields like a member's, and membership.
CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    system_id INTEGER NOT NULL REFERENCES systems(id) ON DELETE CASCADE,
    short_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    display_name TEXT,
    description TEXT,
    icon_url TEXT,
    banner_url TEXT,
    color TEXT,
    created_at BIGINT NOT NULL,
    -- The event whose `group new` created it (a retried command finds it).
    created_by_event TEXT
);
CREATE INDEX groups_by_system ON groups(system_id);
CREATE UNIQUE INDEX groups_by_creating_event ON groups(created_by_event);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_by_member ON group_members(member_id);
