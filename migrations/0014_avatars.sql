-- An imported https:// avatar re-hosted on the homeserver for the member's account: the
-- mxc:// copy and the URL it was made from (used only while avatar_url is still that URL).
ALTER TABLE members ADD COLUMN avatar_mxc TEXT;
ALTER TABLE members ADD COLUMN avatar_mxc_from TEXT;
