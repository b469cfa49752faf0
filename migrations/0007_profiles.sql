-- Full profiles, as PluralKit has them: text fields of systems and members, the member's
-- keepproxy and autoproxy flags, and its message count. Values are stored as checked by
-- `core::profile` (colours as six hex digits, birthdays as YYYY-MM-DD with year 0004 when
-- none was given).
ALTER TABLE systems ADD COLUMN description TEXT;
ALTER TABLE systems ADD COLUMN pronouns TEXT;
ALTER TABLE systems ADD COLUMN color TEXT;
ALTER TABLE systems ADD COLUMN avatar_url TEXT;
ALTER TABLE systems ADD COLUMN banner_url TEXT;

ALTER TABLE members ADD COLUMN description TEXT;
ALTER TABLE members ADD COLUMN pronouns TEXT;
ALTER TABLE members ADD COLUMN color TEXT;
ALTER TABLE members ADD COLUMN birthday TEXT;
ALTER TABLE members ADD COLUMN banner_url TEXT;
ALTER TABLE members ADD COLUMN keep_proxy BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE members ADD COLUMN allow_autoproxy BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE members ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
