-- Bridge administration (issue 10): users and patterns banned at run time by `pk;admin ban`,
-- on top of the config's `access.deny`.
CREATE TABLE admin_bans (
    pattern TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
