-- Privacy (PluralKit's model): one column per subject, named by PluralKit's export key,
-- 'public' or 'private'. See core/privacy.rs.
ALTER TABLE systems ADD COLUMN name_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN avatar_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN description_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN banner_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN pronoun_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN member_list_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN group_list_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN front_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE systems ADD COLUMN front_history_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN name_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN description_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN birthday_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN pronoun_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN avatar_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN banner_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN metadata_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE members ADD COLUMN proxy_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN name_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN icon_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN description_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN banner_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN list_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN metadata_privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE groups ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
