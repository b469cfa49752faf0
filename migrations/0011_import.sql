-- What an imported export carried that the bridge does not interpret (UUIDs, webhook fields,
-- config, switches until they are tracked…), as JSON, so an export gives it back.
ALTER TABLE systems ADD COLUMN import_extra TEXT;
ALTER TABLE members ADD COLUMN import_extra TEXT;
ALTER TABLE groups ADD COLUMN import_extra TEXT;
-- A group's members in the order they were given (an import's, or the order they were added).
ALTER TABLE group_members ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
